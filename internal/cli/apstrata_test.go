package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

func TestApstrataCLIEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--data-dir", dir, "--self-signed")
	defer func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.done
	}()
	var acct map[string]string
	if err := json.Unmarshal((runCLI(t, "apstrata", "account", "--name", "acme", "--data-dir", dir)), &acct); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("device password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "apstrata", "member", "--auth-key", acct["auth_key"], "--id", "dev-7", "--device", "--password-file", pwFile, "--data-dir", dir)
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(acct["secret"]), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--url", s.url + "/apsdb/rest", "--auth-key", acct["auth_key"], "--ca-file", filepath.Join(dir, "dev-tls", "cert.pem")}
	call := func(args ...string) map[string]string {
		t.Helper()
		var out map[string]string
		b := runCLI(t, append(append(append([]string{"apstrata", "call"}, args...), common...), "-o", "json")...)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("apstrata call %v: %v\n%s", args, err, b)
		}
		return out
	}
	out := call("GenerateToken", "--user", "dev-7", "--password-file", pwFile, "--param", "apsdb.tokenExpires=600")
	if out["status"] != "success" || out["apsdb_token_expires"] != "600" || out["apsdb_auth_token"] == "" {
		t.Fatalf("GenerateToken as device: %v", out)
	}
	if out = call("VerifyCredentials", "--token", out["apsdb_auth_token"], "--token-id", "dev-7"); out["type"] != "device" {
		t.Fatalf("VerifyCredentials with the token: %v", out)
	}
	out = call("GenerateToken", "--secret-file", secretFile, "--java", "--simple", "--param", "apsdb.runAs=dev-7")
	if out["apsdb_token_expires"] != "600" && out["apsdb_token_expires"] != "-1" {
		t.Fatalf("owner runAs (Java, simple): %v", out)
	}
	// The table (the default) has a KEY/VALUE row per field.
	table := string(runCLI(t, append([]string{"apstrata", "call", "VerifyCredentials", "--secret-file", secretFile}, common...)...))
	if !regexp.MustCompile(`(?m)^status +success$`).MatchString(table) {
		t.Fatalf("VerifyCredentials as owner, table:\n%s", table)
	}
}
