package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// tpvBrand creates a brand with one product on the data directory.
func tpvBrand(t *testing.T, dir, name, product string) (token, secretFile string) {
	t.Helper()
	var raw map[string]string
	out := runCLI(t, "tpv", "brand", "create", "--data-dir", dir, "--name", name, "--product", product)
	if err := json.Unmarshal(out, &raw); err != nil || raw["application_token"] == "" {
		t.Fatalf("brand create output %s: %v", out, err)
	}
	secretFile = filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(raw["application_secret"]), 0o600); err != nil {
		t.Fatal(err)
	}
	return raw["application_token"], secretFile
}

// cachedTokens is the auth tokens held in a cache file.
func cachedTokens(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range m {
		out = append(out, e.AccessToken)
	}
	return out
}

// TestTPVCLICachesAuthTokenAndSurvivesSameSecondRuns: the tpv commands
// keep the 30-minute auth token in a 0600 cache (default path under the
// user's cache directory) keyed by URL, application token and secret, so
// runs in the same second do not log in twice; two logins in the same
// second both succeed (the second waits for the next second); another
// brand, or a wrong secret, never uses the cached token.
func TestTPVCLICachesAuthTokenAndSurvivesSameSecondRuns(t *testing.T) {
	cacheHome := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheHome)
	cachePath := filepath.Join(cacheHome, "authgate", "tpv-tokens.json")
	dir := t.TempDir()
	tokA, secretA := tpvBrand(t, dir, "Acme Energy", "555=Fixed 12 months")
	tokB, secretB := tpvBrand(t, dir, "Bolt Power", "777=Green 24 months")
	s := startServer(t, "--data-dir", dir)
	connA := []string{"--url", s.url, "--token", tokA, "--secret-file", secretA}
	connB := []string{"--url", s.url, "--token", tokB, "--secret-file", secretB}

	// Start just after a second boundary so the runs share a second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	var logins []string
	for range 2 {
		var got struct {
			AuthToken string `json:"auth_token"`
		}
		if err := json.Unmarshal(runCLI(t, append([]string{"tpv", "login"}, connA...)...), &got); err != nil || got.AuthToken == "" {
			t.Fatalf("login: %v", err)
		}
		logins = append(logins, got.AuthToken)
	}
	for range 2 {
		if out := runCLI(t, append([]string{"tpv", "product", "list"}, connA...)...); !strings.Contains(string(out), `"program_code": "555"`) {
			t.Fatalf("product list A: %s", out)
		}
	}
	st, err := os.Stat(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v, want 0600", st.Mode().Perm())
	}
	if d, err := os.Stat(filepath.Dir(cachePath)); err != nil || d.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory: %v %v", d.Mode().Perm(), err)
	}
	if got := cachedTokens(t, cachePath); len(got) != 1 || got[0] != logins[1] {
		t.Fatalf("cache holds %v, want only the last login's token %s (product list logged in again?)", got, logins[1])
	}
	b, _ := os.ReadFile(cachePath)
	for _, f := range []string{secretA, secretB} {
		if sec, _ := os.ReadFile(f); bytes.Contains(b, sec) {
			t.Fatal("an application secret is in the cache")
		}
	}

	// Another brand on the same server: its own login, its own products.
	if out := runCLI(t, append([]string{"tpv", "product", "list"}, connB...)...); !strings.Contains(string(out), `"program_code": "777"`) || strings.Contains(string(out), `"555"`) {
		t.Fatalf("brand B used brand A's cached token: %s", out)
	}
	if got := cachedTokens(t, cachePath); len(got) != 2 {
		t.Fatalf("cache holds %d tokens, want one per brand", len(got))
	}
	// A wrong secret with brand A's URL and token finds no cached token.
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Main([]string{"tpv", "product", "list", "--url", s.url, "--token", tokA, "--secret-file", wrong}, strings.NewReader(""), &bytes.Buffer{}, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "401 invalid token or signature") {
		t.Fatalf("wrong secret: exit %d, %s", code, stderr.String())
	}
	// A cached token the server no longer knows is dropped for a new login.
	if err := os.WriteFile(cachePath, bytes.ReplaceAll(b, []byte(logins[1]), []byte(strings.Repeat("x", len(logins[1])))), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, append([]string{"tpv", "product", "list"}, connA...)...); !strings.Contains(string(out), `"program_code": "555"`) {
		t.Fatalf("product list after a stale cache: %s", out)
	}
}
