package cnf

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var annex = []string{"1_sign_SampleOrg_TA.cnf", "2_ssl_SampleOrg_TA.cnf", "3_sign_SampleOrg_PE.cnf", "4_ssl_SampleOrg_PE.cnf"}

func env(m map[string]string) Options {
	return Options{LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func mustParse(t *testing.T, text string, opt Options) *File {
	t.Helper()
	f, err := Parse([]byte(text), opt)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestAnnexFiles(t *testing.T) {
	for _, name := range annex {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			f := mustParse(t, string(data), env(map[string]string{"HOME": "/home/partner"}))
			if v, _ := f.Get("default", "RANDFILE"); v != "/home/partner/.rnd" {
				t.Errorf("RANDFILE = %q, want $ENV::HOME expanded", v)
			}
			if v, _ := f.Get("req", "HOME"); v != "." {
				t.Errorf("HOME via default fallback = %q", v)
			}
			r, err := Req(f)
			if err != nil {
				t.Fatalf("Req: %v", err)
			}
			ta := strings.Contains(name, "_TA")
			ssl := strings.Contains(name, "_ssl_")
			wantOU, wantCN := "M2M", "m2m.sample.org"
			if ta {
				wantOU, wantCN = "M2M_TA", "ta.sample.org"
			}
			var got []string
			for _, a := range r.Subject {
				got = append(got, a.Name+"="+a.Value)
			}
			want := []string{"C=DE", "ST=North-Rhine-Westfalia", "L=Bonn", "O=Sample Organization S.E.",
				"OU=" + wantOU, "CN=" + wantCN, "emailAddress=m2m@sample.org"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("subject\n got %v\nwant %v", got, want)
			}
			if r.Bits != 2048 || r.Digest != "sha256" || r.StringMask != "utf8only" {
				t.Errorf("bits/digest/mask = %d/%s/%s", r.Bits, r.Digest, r.StringMask)
			}
			if !strings.HasSuffix(r.KeyFile, "-PrivateKey.pem") {
				t.Errorf("KeyFile = %q", r.KeyFile)
			}
			exts := map[string]string{}
			for _, e := range r.Extensions {
				exts[e.Name] = e.Value
			}
			wantKU, wantEKU := "digitalSignature", "clientAuth"
			if ssl {
				wantKU, wantEKU = "digitalSignature, keyEncipherment", "serverAuth"
			}
			if exts["keyUsage"] != wantKU || exts["extendedKeyUsage"] != wantEKU || exts["basicConstraints"] != "CA:FALSE" ||
				exts["subjectKeyIdentifier"] != "hash" || !strings.HasPrefix(exts["nsComment"], "M2M API ") {
				t.Errorf("extensions = %v", exts)
			}
		})
	}
}

func TestSyntax(t *testing.T) {
	tests := []struct {
		name, text, section, key, want string
	}{
		{"comment after value", "a = b # c\n", "default", "a", "b"},
		{"hash in double quotes", `a = "b # c"` + "\n", "default", "a", "b # c"},
		{"hash in single quotes", "a = 'x#y' z\n", "default", "a", "x#y z"},
		{"escaped hash", `a = b \# c` + "\n", "default", "a", "b # c"},
		{"escapes", `a = x\ty\nz\\` + "\n", "default", "a", "x\ty\nz\\"},
		{"continuation", "a = one \\\n two\n", "default", "a", "one  two"},
		{"variable", "x = 1\ny = $x-$x\n", "default", "y", "1-1"},
		{"braced variable", "x = 1\ny = ${x}2\n", "default", "y", "12"},
		{"paren variable", "x = 1\ny = $(x)2\n", "default", "y", "12"},
		{"section variable", "[s]\nv = in-s\n[t]\nw = $s::v\n", "t", "w", "in-s"},
		{"braced section variable", "[s]\nv = in-s\n[t]\nw = ${s::v}!\n", "t", "w", "in-s!"},
		{"current section first", "v = def\n[s]\nv = mine\nw = $v\n", "s", "w", "mine"},
		{"default fallback", "v = def\n[s]\nw = $v\n", "s", "w", "def"},
		{"env", "h = $ENV::HOME/.rnd\n", "default", "h", "/root/.rnd"},
		{"later assignment wins", "a = 1\na = 2\n", "default", "a", "2"},
		{"section spaces", "[  req  ]\nprompt=no\n", "req", "prompt", "no"},
		{"numbered name", "[dn]\n0.OU = a\n1.OU = b\n", "dn", "1.OU", "b"},
		{"assign into other section", "s::k = v\n", "s", "k", "v"},
		{"crlf", "a = b\r\n", "default", "a", "b"},
		{"tab separated", "a\t=\tb\t\n", "default", "a", "b"},
		{"empty value", "a =\n", "default", "a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.text, env(map[string]string{"HOME": "/root"}))
			got, ok := f.Get(tt.section, tt.key)
			if !ok || got != tt.want {
				t.Errorf("Get(%s, %s) = %q, %v; want %q", tt.section, tt.key, got, ok, tt.want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"unclosed section", "[req\n", "missing close square bracket"},
		{"no equals", "abc\n", "missing equal sign"},
		{"undefined variable", "a = $nope\n", "variable has no value"},
		{"undefined env", "a = $ENV::NOPE\n", "environment variable NOPE"},
		{"unclosed brace", "a = ${x\n", "no close brace"},
		{"bare dollar", "a = $\n", "variable has no name"},
		{"include", ".include /etc/passwd\n", "not supported"},
		{"text after header", "[a] b\n", "unexpected text"},
		{"bad name", "a b = c\n", "missing equal sign"},
		{"too big", strings.Repeat("#", MaxFileSize+1), "larger than"},
		{"expansion bomb", "a = xxxxxxxxxxxxxxxx\n" + bomb(14), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// bomb doubles the previous variable n times: 16 * 2^n bytes.
func bomb(n int) string {
	var b strings.Builder
	prev := "a"
	for i := 0; i < n; i++ {
		name := "v" + string(rune('a'+i))
		b.WriteString(name + " = $" + prev + "$" + prev + "\n")
		prev = name
	}
	return b.String()
}

func TestReqErrors(t *testing.T) {
	base := "[ req ]\ndistinguished_name = dn\nprompt = no\n%s\n[ dn ]\nCN = x\n%s\n"
	tests := []struct{ name, req, dn, want string }{
		{"small key", "default_bits = 1024", "", "2048 to 8192"},
		{"bad bits", "default_bits = lots", "", "not a number"},
		{"md5", "default_md = md5", "", "not supported"},
		{"prompting", "prompt = yes", "", "prompt = no"},
		{"unknown attribute", "", "XX = y", "unknown subject attribute"},
		{"long country", "", "C = DEU", "two-letter"},
		{"non-printable country", "", "C = D_", "PrintableString"},
		{"non-ascii email", "", "emailAddress = jö@x", "non-ASCII"},
		{"missing ext section", "req_extensions = nope", "", "is missing"},
		{"multi-valued RDN", "", "+OU = y", "multi-valued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, strings.Replace(strings.Replace(base, "%s", tt.req, 1), "%s", tt.dn, 1), Options{})
			_, err := Req(f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	extBase := "[ req ]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[ dn ]\nCN = x\n[ ext ]\n"
	for _, bad := range []string{"keyUsage = signEverything", "extendedKeyUsage = anything", "basicConstraints = CA:MAYBE",
		"subjectKeyIdentifier = 01:02", "subjectAltName = DNS", "subjectAltName = IP:300.1.1.1", "authorityInfoAccess = x",
		"keyUsage = critical"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := Req(mustParse(t, extBase+bad+"\n", Options{})); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestExtensionEncoding(t *testing.T) {
	// Expected DER as `openssl req` writes it for the annex values.
	tests := []struct{ name, value, hex string }{
		{"basicConstraints", "CA:FALSE", "3000"},
		{"keyUsage", "digitalSignature", "03020780"},
		{"keyUsage", "digitalSignature, keyEncipherment", "030205a0"},
		{"extendedKeyUsage", "serverAuth", "300a06082b06010505070301"},
		{"extendedKeyUsage", "clientAuth", "300a06082b06010505070302"},
		{"basicConstraints", "critical,CA:TRUE,pathlen:0", "30060101ff020100"},
		{"subjectAltName", "DNS:a.example, IP:10.0.0.1", "30118209612e6578616d706c6587040a000001"},
	}
	for _, tt := range tests {
		ext, err := encodeExtension(tt.name, tt.value, nil)
		if err != nil {
			t.Fatalf("%s = %s: %v", tt.name, tt.value, err)
		}
		if got := hex.EncodeToString(ext.Value); got != tt.hex {
			t.Errorf("%s = %s: %s, want %s", tt.name, tt.value, got, tt.hex)
		}
	}
}

// openssl is the real OpenSSL binary; the full CI run (test.sh) must have it.
func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("openssl is required for the full test run (scripts/deps.sh installs it)")
		}
		t.Skip("openssl not installed")
	}
	return p
}

// TestCSRMatchesOpenSSL makes a CSR from each annex file with the real
// `openssl req` and with CreateCSR for the same key, and requires the
// same subject bytes (order and string types) and the same extensions.
func TestCSRMatchesOpenSSL(t *testing.T) {
	bin := openssl(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range annex {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join("testdata", name)
			cmd := exec.Command(bin, "req", "-new", "-config", cfg, "-key", keyFile, "-outform", "DER")
			cmd.Env = append(os.Environ(), "HOME="+dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			theirs, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl req: %v\n%s", err, stderr.String())
			}
			data, _ := os.ReadFile(cfg)
			f := mustParse(t, string(data), env(map[string]string{"HOME": dir}))
			r, err := Req(f)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := r.CreateCSR(rand.Reader, key)
			if err != nil {
				t.Fatal(err)
			}
			a, err := x509.ParseCertificateRequest(theirs)
			if err != nil {
				t.Fatal(err)
			}
			b, err := x509.ParseCertificateRequest(ours)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.CheckSignature(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.RawSubject, b.RawSubject) {
				t.Errorf("subject differs:\nopenssl %x\nours    %x", a.RawSubject, b.RawSubject)
			}
			if len(a.Extensions) != len(b.Extensions) {
				t.Fatalf("extensions: openssl %d, ours %d", len(a.Extensions), len(b.Extensions))
			}
			for i := range a.Extensions {
				ea, eb := a.Extensions[i], b.Extensions[i]
				if !ea.Id.Equal(eb.Id) || ea.Critical != eb.Critical || !bytes.Equal(ea.Value, eb.Value) {
					t.Errorf("extension %d: openssl %v %v %x, ours %v %v %x", i, ea.Id, ea.Critical, ea.Value, eb.Id, eb.Critical, eb.Value)
				}
			}
			if a.SignatureAlgorithm != b.SignatureAlgorithm {
				t.Errorf("signature algorithm: openssl %v, ours %v", a.SignatureAlgorithm, b.SignatureAlgorithm)
			}
		})
	}
}

func TestRawSubjectTypes(t *testing.T) {
	f := mustParse(t, "[req]\nprompt=no\ndistinguished_name=dn\nstring_mask=default\n[dn]\nC=DE\nO=Plain\nL=Köln\n", Options{})
	r, err := Req(f)
	if err != nil {
		t.Fatal(err)
	}
	tags := []int{asn1.TagPrintableString, asn1.TagPrintableString, asn1.TagUTF8String}
	for i, a := range r.Subject {
		if a.Tag != tags[i] {
			t.Errorf("%s tag %d, want %d", a.Name, a.Tag, tags[i])
		}
	}
	n, err := r.Name()
	if err != nil || n.Locality[0] != "Köln" {
		t.Fatalf("Name() = %v, %v", n, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range annex {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"a = $b\n", "[x]\n$x::y = ${x::y}\n", "a = 'x\\'y\"#\n", "a=\\\n\\\n", "[ req ]\nprompt=no\ndistinguished_name=d\nreq_extensions=e\n[d]\nCN=x\n[e]\nsubjectAltName=IP:::1,DNS:x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, env(map[string]string{"HOME": "/h"}))
		if err != nil {
			return
		}
		for _, s := range file.Sections() {
			sec, _ := file.Section(s)
			for _, e := range sec.Entries {
				if len(e.Value) > MaxValueLength {
					t.Fatalf("value of %d bytes", len(e.Value))
				}
			}
		}
		r, err := Req(file)
		if err != nil {
			return
		}
		if _, err := r.RawSubject(); err != nil {
			t.Fatalf("valid request with unencodable subject: %v", err)
		}
	})
}
