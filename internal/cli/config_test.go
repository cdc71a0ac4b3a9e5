package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLIExit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestConfigExampleChecksValid: the printed example is a valid
// configuration for `config check`, and `serve` would read it (same loader).
func TestConfigExampleChecksValid(t *testing.T) {
	code, ex, stderr := runCLIExit(t, "config", "example")
	if code != 0 || stderr != "" {
		t.Fatalf("config example: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"\nlisten: 127.0.0.1:8080\n", "\nm2m:\n", "    # partners:\n", "  key_rotation: 24h0m0s\n"} {
		if !strings.Contains(ex, want) {
			t.Errorf("example lacks %q", want)
		}
	}
	file := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(file, []byte(ex), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLIExit(t, "config", "check", "--config", file)
	if code != 0 || !strings.Contains(out, "configuration valid ("+file+")") {
		t.Fatalf("check of the example: exit %d, %q %q", code, out, stderr)
	}
}

// TestConfigCheck: exit 0 for a valid configuration, 2 with every problem
// (file, environment, values) on stderr otherwise; nothing is started or
// written (the data directory is not created).
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "never-created")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		yaml   string
		env    []string // K=V
		code   int
		stderr []string
	}{
		{"valid", "listen: 127.0.0.1:9999\ndata_dir: " + dataDir + "\ntaap:\n  clock_skew: 20s\n", nil, 0, nil},
		{"unknown key with its nearest", "data_dir: " + dataDir + "\noauth2:\n  acess_token_ttl: 1h\n", nil, 2,
			[]string{"line 3: unknown key oauth2.acess_token_ttl (did you mean oauth2.access_token_ttl?)"}},
		{"unknown key and unknown variable at once", "lisen: x\n", []string{"AUTHGATE_TAAP_CLOCK_SKW=1s"}, 2,
			[]string{"unknown key lisen (did you mean listen?)", "AUTHGATE_TAAP_CLOCK_SKW: did you mean AUTHGATE_TAAP_CLOCK_SKEW?"}},
		{"every invalid value", "data_dir: " + dataDir + "\nlog_level: loud\nlisten: nope\ntls:\n  cert: c.pem\n", nil, 2,
			[]string{"invalid configuration", `log_level "loud"`, `listen "nope"`, "cert and key must be given together"}},
		{"invalid value from the environment", "data_dir: " + dataDir + "\n", []string{"AUTHGATE_REPLAY_MODE=sometimes"}, 2, []string{`replay.mode "sometimes"`}},
		{"not YAML", "listen: [\n", nil, 2, []string{"config "}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			file := write("c"+string(rune('a'+i))+".yaml", tt.yaml)
			code, out, stderr := runCLIExit(t, "config", "check", "--config", file)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out, stderr)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tt.code != 0 && out != "" {
				t.Errorf("stdout on failure: %q", out)
			}
		})
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("config check created the data directory: %v", err)
	}
}
