package cli

import (
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes: every documented exit code is what a real command exits
// with, from the store's error kinds (admin commands) and from the server's
// HTTP answers or its absence (client commands).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", dir}
	var brand map[string]string
	if err := json.Unmarshal(runCLI(t, append([]string{"tpv", "brand", "create", "--name", "Exit Codes"}, data...)...), &brand); err != nil {
		t.Fatal(err)
	}
	runCLI(t, append([]string{"subscription", "resource", "add", "r1", "--path", "/r1"}, data...)...)
	s := startServer(t, data...)
	wrong := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(wrong, []byte("not-the-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	login := func(base string) []string {
		return []string{"tpv", "login", "--url", base, "--token", brand["application_token"], "--secret-file", wrong, "--no-cache"}
	}
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"success", append([]string{"admin", "org", "list"}, data...), exitOK},
		{"unknown command", []string{"admin", "nosuch"}, exitUsage},
		{"unknown flag", append([]string{"admin", "org", "list", "--bogus"}, data...), exitUsage},
		{"missing argument", append([]string{"ca", "revoke"}, data...), exitUsage},
		{"missing required flag", append([]string{"admin", "org", "create"}, data...), exitUsage},
		{"invalid input", append([]string{"admin", "org", "create", "--name", ""}, data...), exitUsage},
		{"not found in the store", append([]string{"admin", "credential", "revoke", "--id", "nosuch"}, data...), exitNotFound},
		{"refused by the server", login(s.url), exitRefused},
		{"conflict in the store", append([]string{"subscription", "resource", "add", "r1", "--path", "/r1"}, data...), exitConflict},
		{"server unreachable", login(closed), exitUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLIExit(t, c.args...)
			if code != c.want {
				t.Fatalf("authgate %v: exit %d, want %d\n%s", c.args, code, c.want, stderr)
			}
			if c.want != exitOK && !strings.HasPrefix(stderr, "authgate: ") {
				t.Fatalf("stderr %q: want the one error line", stderr)
			}
			if strings.Contains(stderr, "_signature") || strings.Contains(stderr, "timestamp=") {
				t.Fatalf("stderr %q names the signed login URL's query", stderr)
			}
		})
	}
}

// TestExitCodeOfStatus covers the mapping of every core kind and HTTP
// status the table names, including those no command above produces.
func TestExitCodeOfStatus(t *testing.T) {
	for status, want := range map[int]int{400: exitUsage, 413: exitUsage, 404: exitNotFound, 401: exitRefused, 403: exitRefused,
		409: exitConflict, 429: exitUnavailable, 502: exitUnavailable, 503: exitUnavailable, 302: exitFailure} {
		if got := exitCodeOfStatus(status); got != want {
			t.Errorf("HTTP %d: exit %d, want %d", status, got, want)
		}
	}
	if got := exitCode(errors.New("plain"), true); got != exitFailure {
		t.Errorf("plain error: exit %d", got)
	}
	if got := exitCode(&url.Error{Op: "Get", URL: "http://x", Err: errors.New("x")}, true); got != exitFailure {
		t.Errorf("url error without a network cause: exit %d", got)
	}
}
