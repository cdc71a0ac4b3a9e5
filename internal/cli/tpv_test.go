package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs authgate in-process and returns stdout, failing on a non-zero exit.
func runCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("authgate %v: exit %d\n%s", args, code, errb.String())
	}
	return out.Bytes()
}

// TestTPVCommands: an administrator creates a brand with a product, the
// server runs on that data, and the client commands log in and submit.
func TestTPVCommands(t *testing.T) {
	dir := t.TempDir()
	var brand struct {
		OrgID, BrandID, ApplicationToken, AppSecret string
	}
	out := runCLI(t, "tpv", "brand", "create", "--data-dir", dir, "--name", "Acme Energy", "--product", "555=Fixed 12 months")
	var raw map[string]string
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("brand create output %s: %v", out, err)
	}
	brand.OrgID, brand.BrandID, brand.ApplicationToken, brand.AppSecret = raw["org_id"], raw["brand_id"], raw["application_token"], raw["application_secret"]
	if brand.ApplicationToken == "" || len(brand.AppSecret) < 40 || brand.OrgID == "" {
		t.Fatalf("brand create output %s", out)
	}
	db, err := os.ReadFile(filepath.Join(dir, "authgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(brand.AppSecret)) {
		t.Fatal("application secret stored in clear")
	}

	s := startServer(t, "--data-dir", dir)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(brand.AppSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--url", s.url, "--token", brand.ApplicationToken, "--secret-file", secretFile}

	out = runCLI(t, append([]string{"tpv", "login"}, conn...)...)
	if !regexp.MustCompile(`"auth_token": "[A-Za-z0-9_-]{40,}"`).Match(out) {
		t.Fatalf("login output %s", out)
	}
	record := filepath.Join(t.TempDir(), "tpv.json")
	example, err := os.ReadFile("../protocol/tpv/testdata/example_record.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, example, 0o600); err != nil {
		t.Fatal(err)
	}
	out = runCLI(t, append([]string{"tpv", "submit", record, "--send-digital"}, conn...)...)
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil || !regexp.MustCompile(`^\d{11}$`).MatchString(res["success"]) ||
		res["digital"] != "Digital delivery by email requested for "+res["success"]+"." {
		t.Fatalf("submit output %s (%v)", out, err)
	}
	out = runCLI(t, append([]string{"tpv", "product", "list"}, conn...)...)
	if !strings.Contains(string(out), `"program_code": "555"`) {
		t.Fatalf("product list %s", out)
	}

	// A wrong secret fails with the server's message and a non-zero exit.
	if err := os.WriteFile(secretFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Main(append([]string{"tpv", "login"}, conn...), strings.NewReader(""), &bytes.Buffer{}, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "401 invalid token or signature") {
		t.Fatalf("wrong secret: exit %d, %s", code, stderr.String())
	}
}
