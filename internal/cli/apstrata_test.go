package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	out := string(runCLI(t, append([]string{"apstrata", "call", "GenerateToken", "--user", "dev-7", "--password-file", pwFile, "--param", "apsdb.tokenExpires=600"}, common...)...))
	if !strings.Contains(out, "status: success") || !strings.Contains(out, "apsdb.tokenExpires: 600") {
		t.Fatalf("GenerateToken as device:\n%s", out)
	}
	var token string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "apsdb.authToken: "); ok {
			token = v
		}
	}
	out = string(runCLI(t, append([]string{"apstrata", "call", "VerifyCredentials", "--token", token, "--token-id", "dev-7"}, common...)...))
	if !strings.Contains(out, "type: device") {
		t.Fatalf("VerifyCredentials with the token:\n%s", out)
	}
	out = string(runCLI(t, append([]string{"apstrata", "call", "GenerateToken", "--secret-file", secretFile, "--java", "--simple", "--param", "apsdb.runAs=dev-7"}, common...)...))
	if !strings.Contains(out, "apsdb.tokenExpires: 600") && !strings.Contains(out, "apsdb.tokenExpires: -1") {
		t.Fatalf("owner runAs (Java, simple):\n%s", out)
	}
}
