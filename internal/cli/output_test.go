package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"createdAt": "created_at", "NetworkState": "network_state", "M2MApiKey": "m2m_api_key", "ICCID": "iccid",
		"SMSCount": "sms_count", "RequestID": "request_id", "org_id": "org_id", "X509Cert": "x509_cert", "key-id": "key_id", "": "",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPrintNormalisesKeys: nested objects and lists get snake_case keys;
// values (even ones looking like keys) are left alone; numbers stay exact.
func TestPrintNormalisesKeys(t *testing.T) {
	type inner struct{ NetworkState string }
	var b bytes.Buffer
	v := map[string]any{"Items": []any{inner{"REGISTERED"}}, "createdAt": "createdAt", "Big": int64(1) << 62}
	if err := printAs(&b, outputJSON, outputJSON, v); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"big\": 4611686018427387904,\n  \"created_at\": \"createdAt\",\n  \"items\": [\n    {\n      \"network_state\": \"REGISTERED\"\n    }\n  ]\n}\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := printAs(&b, outputTable, outputJSON, map[string]any{"items": []any{map[string]any{"name": "a\tb\nc", "id": "1", "n": 2}}}); err != nil {
		t.Fatal(err)
	}
	if want := "ID  NAME     N\n1   a\\tb\\nc  2\n"; b.String() != want {
		t.Fatalf("table\n%q\nwant\n%q", b.String(), want)
	}
}

// clientCommands are the commands that talk to a server (or to nothing):
// they must not carry the server's flags. Every other runnable command
// opens the store or reads the configuration and has them.
var clientCommands = map[string]bool{
	"authgate token": true, "authgate pop": true, "authgate csr": true, "authgate version": true,
	"authgate tpv login": true, "authgate tpv submit": true, "authgate tpv product list": true, "authgate tpv product add": true,
	"authgate apstrata call": true, "authgate m2m call": true, "authgate m2m partner-serve": true,
	"authgate help": true,
}

// TestClientCommandsHaveNoServerFlags: --data-dir, --db, --master-key-file
// (and the rest of the server's flags) appear on server-side commands
// only; a new command must be put on one side.
func TestClientCommandsHaveNoServerFlags(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	var walk func(c *cobra.Command)
	seen := map[string]bool{}
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		path := c.CommandPath()
		client := clientCommands[path] || strings.HasPrefix(path, "authgate completion ")
		if !c.Runnable() || c == root || (c.HasSubCommands() && !client) {
			return
		}
		seen[path] = true
		for _, name := range []string{"data-dir", "db", "master-key-file", "log-level", "self-signed"} {
			has := c.InheritedFlags().Lookup(name) != nil || c.LocalFlags().Lookup(name) != nil
			if client && has {
				t.Errorf("client command %q has the server flag --%s", path, name)
			}
			if !client && !has {
				t.Errorf("server-side command %q lacks --%s (or belongs in clientCommands)", path, name)
			}
		}
	}
	walk(root)
	for path := range clientCommands {
		if !seen[path] {
			t.Errorf("clientCommands names %q, which is not a command", path)
		}
	}
}

// TestAdminCommandQuiet: a successful administration command prints its
// data on stdout and nothing on stderr; --log-level still turns logs on.
func TestAdminCommandQuiet(t *testing.T) {
	data := []string{"--data-dir", t.TempDir()}
	code, stdout, stderr := runCLIExit(t, append([]string{"admin", "org", "create", "--name", "quiet"}, data...)...)
	if code != 0 || stderr != "" || !json.Valid([]byte(stdout)) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLIExit(t, append([]string{"admin", "org", "list", "--log-level", "info"}, data...)...)
	if code != 0 || !strings.Contains(stderr, "storage ready") {
		t.Fatalf("--log-level info: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLIExit(t, append([]string{"admin", "org", "list", "-o", "yaml"}, data...)...); code != exitUsage {
		t.Fatalf("-o yaml: exit %d, stderr %q", code, stderr)
	}
}
