package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttack_ClientCommandsRefusedExit4: the client commands that manage
// objects through the API (`tpv product add`, and `tpv product list`
// beside it) exit 4 (refused) with the server's reason on stderr and
// nothing on stdout when the brand's token may not do it: an API
// resource covers the product routes and the brand's organisation is
// not subscribed to it. The product was not created.
func TestAttack_ClientCommandsRefusedExit4(t *testing.T) {
	dir := t.TempDir()
	var brand map[string]string
	if err := json.Unmarshal(runCLI(t, "tpv", "brand", "create", "--data-dir", dir, "--name", "Acme Energy", "--product", "555=Fixed 12 months"), &brand); err != nil {
		t.Fatal(err)
	}
	token, secretFile := brand["application_token"], filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(brand["application_secret"]), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "subscription", "resource", "create", "tpv-products", "--path", "/api/v1/products", "--data-dir", dir)
	s := startServer(t, "--data-dir", dir)
	conn := []string{"--url", s.url, "--token", token, "--secret-file", secretFile, "--cache", filepath.Join(t.TempDir(), "cache.json")}
	for _, args := range [][]string{
		{"tpv", "product", "add", "--code", "777", "--name", "Green 24 months"},
		{"tpv", "product", "list"},
	} {
		code, stdout, stderr := runCLIExit(t, append(args, conn...)...)
		if code != exitRefused || stdout != "" || !strings.Contains(stderr, "403") {
			t.Errorf("authgate %s: exit %d (want %d), stdout %q, stderr %q", strings.Join(args, " "), code, exitRefused, stdout, stderr)
		}
	}
	stopServer(t, s)
	// Subscribed, the same brand lists its products: 777 was never added.
	runCLI(t, "subscription", "subscribe", "--org", brand["org_id"], "--resource", "tpv-products", "--data-dir", dir)
	s = startServer(t, "--data-dir", dir)
	defer stopServer(t, s)
	conn[1] = s.url
	code, stdout, stderr := runCLIExit(t, append([]string{"tpv", "product", "list"}, conn...)...)
	if code != 0 || !strings.Contains(stdout, `"555"`) || strings.Contains(stdout, "777") {
		t.Fatalf("product list once subscribed: exit %d %s %s", code, stdout, stderr)
	}
}
