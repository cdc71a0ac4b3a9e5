package cli

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenStep is one command of the golden scenario. Its arguments may
// name values an earlier step printed ({org} is the org_id or id a step
// saved under "org").
type goldenStep struct {
	args []string
	save map[string]string // name -> output key to remember
	// after reads what the step wrote into the variables (a file's contents).
	after func(t *testing.T, vars map[string]string)
}

var goldenSteps = []goldenStep{
	{args: []string{"admin", "org", "create", "--name", "acme"}, save: map[string]string{"org": "id"}},
	{args: []string{"admin", "org", "list"}},
	{args: []string{"admin", "principal", "create", "--org", "{org}", "--kind", "application", "--name", "sensor-api"}, save: map[string]string{"principal": "id"}},
	{args: []string{"admin", "principal", "list", "--org", "{org}"}},
	{args: []string{"admin", "credential", "create", "--principal", "{principal}", "--kind", "access_key"}, save: map[string]string{"credential": "id"}},
	{args: []string{"admin", "credential", "get", "{credential}"}},
	{args: []string{"admin", "credential", "revoke", "{credential}"}},
	{args: []string{"admin", "credential", "list", "--principal", "{principal}", "--include-revoked"}},
	{args: []string{"admin", "org", "get", "{org}"}},
	{args: []string{"admin", "principal", "get", "{principal}"}},
	{args: []string{"admin", "principal", "disable", "{principal}"}},
	{args: []string{"tpv", "brand", "create", "--name", "Acme Energy", "--product", "555=Fixed 12 months"}},
	{args: []string{"apstrata", "account", "--name", "Acme IoT"}, save: map[string]string{"auth_key": "auth_key"}},
	{args: []string{"apstrata", "member", "--auth-key", "{auth_key}", "--id", "alice"}},
	{args: []string{"apstrata", "member", "--auth-key", "{auth_key}", "--id", "meter-1", "--device"}},
	{args: []string{"taap", "sim", "add", "--org", "{org}", "--iccid", "89012601234567890121", "--label", "kit"}},
	{args: []string{"m2m", "apikey", "--partner", "acme", "--config", "{config}"}},
	{args: []string{"m2m", "sim", "add", "--partner", "acme", "--iccid", "8949020000000000025", "--config", "{config}"}},
	{args: []string{"subscription", "resource", "create", "connectivity", "--path", "/iot-connectivity/v1", "--method", "get"}},
	{args: []string{"subscription", "resource", "get", "connectivity"}},
	{args: []string{"subscription", "plan", "create", "basic", "--rate", "10", "--quota", "1000"}},
	{args: []string{"subscription", "plan", "get", "basic"}},
	{args: []string{"subscription", "subscribe", "--org", "{org}", "--resource", "connectivity", "--plan", "basic"}, save: map[string]string{"sub": "id"}},
	{args: []string{"subscription", "get", "{sub}"}},
	{args: []string{"subscription", "usage", "{sub}"}},
	{args: []string{"subscription", "list"}},
	{args: []string{"ca", "init", "--algorithm", "ecdsa", "--out", "{dir}/root.pem"}},
	{args: []string{"ca", "sign", "--profile", "signing", "--env", "TA", "--out", "{dir}/ta-sign.pem", "{csr}"}, after: savePEMSerial("{dir}/ta-sign.pem", "serial")},
	{args: []string{"ca", "list"}},
	{args: []string{"ca", "get", "{serial}"}},
	{args: []string{"ca", "revoke", "{serial}", "--reason", "superseded"}},
	{args: []string{"migrate", "status"}},
}

// savePEMSerial saves the serial of the first certificate of the PEM
// file path (with variables) as name.
func savePEMSerial(path, name string) func(*testing.T, map[string]string) {
	return func(t *testing.T, vars map[string]string) {
		t.Helper()
		b, err := os.ReadFile(expandVars(path, vars))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", path)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		vars[name] = c.SerialNumber.Text(16)
	}
}

// expandVars replaces {name} by vars[name].
func expandVars(s string, vars map[string]string) string {
	return os.Expand(strings.NewReplacer("{", "${").Replace(s), func(k string) string { return vars[k] })
}

// goldenCSR writes a partner signing request of the TA environment.
func goldenCSR(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{Country: []string{"DE"},
		Province: []string{"NRW"}, Locality: []string{"Bonn"}, Organization: []string{"Acme"}, OrganizationalUnit: []string{"M2M_TA"},
		CommonName: "ta.acme.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenOutputs runs the real CLI for a representative command of
// each object, in -o json and in -o table, and compares what it prints
// with testdata/golden/outputs.<format>.golden, ids, secrets and times
// normalised. Every JSON key must be snake_case.
func TestGoldenOutputs(t *testing.T) {
	runGolden(t, "outputs", goldenSteps)
}

// runGolden runs steps in a fresh data directory, once per format, and
// compares what they print with testdata/golden/<name>.<format>.golden.
func runGolden(t *testing.T, name string, steps []goldenStep) {
	for _, format := range []string{outputJSON, outputTable} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "authgate.yaml")
			if err := os.WriteFile(cfg, []byte("m2m:\n  ta:\n    partners:\n      - name: acme\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{"config": cfg, "dir": dir, "csr": filepath.Join(dir, "req.csr")}
			goldenCSR(t, vars["csr"])
			n := newGoldenNormaliser()
			var out strings.Builder
			for _, s := range steps {
				args := make([]string, len(s.args))
				for i, a := range s.args {
					args[i] = expandVars(a, vars)
				}
				quoted := make([]string, len(s.args))
				for i, a := range s.args {
					if strings.ContainsAny(a, " =") {
						a = "'" + a + "'"
					}
					quoted[i] = a
				}
				shown := strings.Join(quoted, " ")
				// The harness's own flags go first, so that a step may end its
				// flags with "--" (an id such as a TAAP kid may start with "-").
				full := append([]string{"--data-dir", filepath.Join(dir, "data"), "-o", format}, args...)
				code, stdout, stderr := runCLIExit(t, full...)
				if code != 0 {
					t.Fatalf("authgate %s: exit %d\n%s", shown, code, stderr)
				}
				if format == outputJSON && stdout != "" { // "": the data went to --out
					checkSnakeKeys(t, shown, stdout)
				}
				if s.after != nil {
					s.after(t, vars)
				}
				for name, key := range s.save {
					if vars[name] = outputValue(format, stdout, key); vars[name] == "" {
						t.Fatalf("authgate %s: no %s in\n%s", shown, key, stdout)
					}
				}
				line := shown + " -o " + format
				if before, after, ok := strings.Cut(shown, " -- "); ok { // flags end at "--"
					line = before + " -o " + format + " -- " + after
				}
				fmt.Fprintf(&out, "$ authgate %s\n%s\n", line, n.apply(stdout, format == outputTable))
			}
			golden.Assert(t, filepath.Join("testdata", "golden", name+"."+format+".golden"), out.String(), *update)
		})
	}
}

// outputValue reads key from a command's output: a JSON object, or a
// KEY/VALUE table.
func outputValue(format, out, key string) string {
	if format == outputJSON {
		var m map[string]any
		if json.Unmarshal([]byte(out), &m) != nil {
			return ""
		}
		s, _ := m[key].(string)
		return s
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

var snakeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkSnakeKeys fails unless every object key in the JSON output is snake_case.
func checkSnakeKeys(t *testing.T, cmd, out string) {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("authgate %s: not JSON: %v\n%s", cmd, err, out)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if !snakeRE.MatchString(k) {
					t.Errorf("authgate %s: key %q is not snake_case", cmd, k)
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
}

// goldenNormaliser replaces what changes from run to run with stable
// names: the same value gets the same name within one scenario.
type goldenNormaliser struct {
	names map[string]string
	count map[string]int
}

func newGoldenNormaliser() *goldenNormaliser {
	return &goldenNormaliser{names: map[string]string{}, count: map[string]int{}}
}

var (
	// pemRE is a PEM block, as printed or inside a JSON string or table cell (newlines escaped).
	pemRE    = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]+)-----(\\n|\n)[A-Za-z0-9+/=\\\n]*?-----END ([A-Z0-9 ]+)-----`)
	timeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	dateRE   = regexp.MustCompile(`\b\d{4}-\d\d-\d\d\b`)
	hexIDRE  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	secretRE = regexp.MustCompile(`[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]{20,})?`)
	spacesRE = regexp.MustCompile(` {2,}`)
)

func (n *goldenNormaliser) name(kind, v string) string {
	if s, ok := n.names[v]; ok {
		return s
	}
	n.count[kind]++
	s := fmt.Sprintf("<%s-%d>", kind, n.count[kind])
	n.names[v] = s
	return s
}

// apply normalises one output; a table's column padding, which follows
// the width of the values replaced, is reduced to two spaces.
func (n *goldenNormaliser) apply(s string, table bool) string {
	s = pemRE.ReplaceAllString(s, "<pem $1>")
	s = timeRE.ReplaceAllString(s, "<time>")
	s = dateRE.ReplaceAllString(s, "<date>")
	s = hexIDRE.ReplaceAllStringFunc(s, func(v string) string { return n.name("id", v) })
	s = secretRE.ReplaceAllStringFunc(s, func(v string) string {
		if strings.Trim(v, "0123456789") == "" { // ICCIDs and other numbers stay
			return v
		}
		return n.name("secret", v)
	})
	if table {
		s = spacesRE.ReplaceAllString(s, "  ")
	}
	return s
}
