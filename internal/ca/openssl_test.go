package ca

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var annexFiles = []struct {
	file, profile string
	env           Environment
	cn            string
}{
	{"1_sign_SampleOrg_TA.cnf", "signing", EnvTA, "ta.sample.org"},
	{"2_ssl_SampleOrg_TA.cnf", "ssl-server", EnvTA, "ta.sample.org"},
	{"3_sign_SampleOrg_PE.cnf", "signing", EnvPE, "m2m.sample.org"},
	{"4_ssl_SampleOrg_PE.cnf", "ssl-server", EnvPE, "m2m.sample.org"},
}

// wantExtensions is exactly what `openssl x509 -text` must show per profile.
func wantExtensions(profile, cn string) map[string]string {
	m := map[string]string{
		"X509v3 Basic Constraints: critical": "CA:FALSE",
		"X509v3 Subject Key Identifier":      "*",
		"X509v3 Authority Key Identifier":    "*",
	}
	switch profile {
	case "signing":
		m["X509v3 Key Usage: critical"] = "Digital Signature"
		m["X509v3 Extended Key Usage"] = "TLS Web Client Authentication"
	case "ssl-server":
		m["X509v3 Key Usage: critical"] = "Digital Signature, Key Encipherment"
		m["X509v3 Extended Key Usage"] = "TLS Web Server Authentication"
		m["X509v3 Subject Alternative Name"] = "DNS:" + cn
	}
	return m
}

// TestAnnexCSRsFromRealOpenSSL: the setup document's annex configuration
// files, copied verbatim into testdata, make CSRs with the real
// `openssl req`; the CA signs them by profile; `openssl x509 -text` shows
// exactly the profile's extensions and `openssl verify` accepts the chain
// for the matching purpose. Both CA shapes: RSA root + issuing CA, and an
// ECDSA root that issues directly.
func TestAnnexCSRsFromRealOpenSSL(t *testing.T) {
	opensslBin(t)
	dir := t.TempDir()
	csrs := map[string][]byte{}
	for _, f := range annexFiles {
		src, err := filepath.Abs(filepath.Join("testdata", f.file))
		if err != nil {
			t.Fatal(err)
		}
		out, err := runOpenSSL(t, dir, "req", "-new", "-config", src, "-newkey", "rsa:2048", "-nodes",
			"-keyout", filepath.Join(dir, f.file+".key"), "-out", filepath.Join(dir, f.file+".csr"))
		if err != nil {
			t.Fatalf("openssl req %s: %v\n%s", f.file, err, out)
		}
		csrs[f.file], _ = os.ReadFile(filepath.Join(dir, f.file+".csr"))
	}
	for _, shape := range []InitOptions{
		{Algorithm: "rsa", RSABits: 2048},
		{Algorithm: "ecdsa", Curve: "P-384"},
	} {
		a, _, _ := newCA(t, shape)
		ctx := context.Background()
		root, _ := a.Root(ctx)
		rootFile := writeFile(t, dir, "root.pem", []byte(pemCert(root)))
		for _, f := range annexFiles {
			t.Run(shape.Algorithm+"/"+f.file, func(t *testing.T) {
				iss, err := a.Sign(ctx, SignRequest{CSR: csrs[f.file], Profile: f.profile, Environment: f.env, Organisation: "Sample Organization S.E."})
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				certFile := writeFile(t, dir, "cert.pem", []byte(pemCert(iss.Certificate)))
				text, err := runOpenSSL(t, dir, "x509", "-in", certFile, "-noout", "-text")
				if err != nil {
					t.Fatalf("openssl x509: %v\n%s", err, text)
				}
				got, version := opensslExtensions(text)
				if version != "Version: 3 (0x2)" {
					t.Errorf("version line %q", version)
				}
				want := wantExtensions(f.profile, f.cn)
				if len(got) != len(want) {
					t.Errorf("extensions\n got %v\nwant %v", got, want)
				}
				for k, v := range want {
					g, ok := got[k]
					if !ok || (v != "*" && g != v) || (v == "*" && g == "") {
						t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
					}
				}
				// The subject is the partner's, attribute for attribute.
				if !strings.Contains(text, "Subject: C = DE, ST = North-Rhine-Westfalia, L = Bonn, O = Sample Organization S.E., OU = "+f.env.OU()+", CN = "+f.cn+", emailAddress = m2m@sample.org") {
					t.Errorf("subject line missing in:\n%s", text)
				}
				purpose := "sslclient"
				if f.profile == "ssl-server" {
					purpose = "sslserver"
				}
				args := []string{"verify", "-CAfile", rootFile, "-purpose", purpose, "-attime", "1773000000"}
				if len(iss.Chain) > 0 {
					args = append(args, "-untrusted", writeFile(t, dir, "chain.pem", []byte(pemCert(iss.Chain[0]))))
				}
				out, err := runOpenSSL(t, dir, append(args, certFile)...)
				if err != nil || !strings.Contains(out, ": OK") {
					t.Fatalf("openssl verify: %v\n%s", err, out)
				}
				// The serial openssl prints is the recorded one.
				out, _ = runOpenSSL(t, dir, "x509", "-in", certFile, "-noout", "-serial")
				m := regexp.MustCompile(`serial=([0-9A-F]+)`).FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("no serial in %q", out)
				}
				if s, _ := NormaliseSerial(m[1]); s != iss.Record.Serial {
					t.Errorf("serial %s, record %s", s, iss.Record.Serial)
				}
				if d := iss.Certificate.NotAfter.Sub(iss.Certificate.NotBefore); d > 1096*24*time.Hour+time.Minute {
					t.Errorf("validity %v beyond three years", d)
				}
			})
		}
	}
}
