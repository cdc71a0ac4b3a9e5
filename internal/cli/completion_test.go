package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// complete runs cobra's hidden __complete command in process and returns
// the candidates (without descriptions) and the directive line.
func completeCLI(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, stdout, stderr := runCLIExit(t, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d\n%s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var out []string
	for _, l := range lines[:len(lines)-1] {
		out = append(out, strings.SplitN(l, "\t", 2)[0])
	}
	return out, lines[len(lines)-1]
}

// TestCompletion: `authgate completion` scripts exist for each shell, and
// the dynamic completions answer with what exists: organisation ids from
// the store, partner names from the configuration, M2M operations, bench
// schemes; a data directory that does not exist is not created.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if code, stdout, _ := runCLIExit(t, "completion", sh); code != 0 || !strings.Contains(stdout, "authgate") {
			t.Fatalf("completion %s: exit %d", sh, code)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var org map[string]string
	if err := json.Unmarshal(runCLI(t, "admin", "org", "create", "--name", "acme", "--data-dir", data), &org); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte("m2m:\n  ta:\n    partners:\n      - name: acme\n  pe:\n    partners:\n      - name: globex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	has := func(got []string, want ...string) bool {
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				return false
			}
		}
		return true
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"admin", "principal", "list", "--data-dir", data, "--org", ""}, []string{org["id"]}},
		{[]string{"subscription", "subscribe", "--data-dir", data, "--org", ""}, []string{org["id"]}},
		{[]string{"m2m", "apikey", "--config", cfg, "--partner", ""}, []string{"acme"}},
		{[]string{"m2m", "apikey", "--config", cfg, "--env", "PE", "--partner", ""}, []string{"globex"}},
		{[]string{"m2m", "call", ""}, []string{"SIMUsageGet", "SIMStateGet", "SIMActivation"}},
		{[]string{"m2m", "apikey", "create", "--config", cfg, "--partner", ""}, []string{"acme"}},
		{[]string{"m2m", "sim", "list", "--config", cfg, "--partner", ""}, []string{"acme"}},
		{[]string{"m2m", "partner", "get", "--config", cfg, ""}, []string{"acme"}},
		{[]string{"bench", "--schemes", ""}, benchNames()},
		{[]string{"admin", ""}, []string{"org", "principal", "credential", "audit"}},
	} {
		got, directive := completeCLI(t, c.args...)
		if !has(got, c.want...) || directive != ":4" {
			t.Errorf("__complete %v: %v %s, want %v and :4 (no files)", c.args, got, directive, c.want)
		}
	}
	if got, _ := completeCLI(t, "m2m", "apikey", "--config", cfg, "--env", "PE", "--partner", ""); has(got, "acme") {
		t.Errorf("PE partners %v include the TA partner", got)
	}
	missing := filepath.Join(dir, "none")
	if got, _ := completeCLI(t, "admin", "principal", "list", "--data-dir", missing, "--org", ""); len(got) != 0 {
		t.Errorf("completion on a missing data directory: %v", got)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("completion created %s: %v", missing, err)
	}
}

// TestCompletionTableNamesCommands: every command path and flag the
// completion tables name exists, so a renamed command cannot silently
// lose its completion.
func TestCompletionTableNamesCommands(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	found := map[string]*cobra.Command{}
	walkCommands(root, func(c *cobra.Command) { found[strings.TrimPrefix(c.CommandPath(), "authgate ")] = c })
	for path := range argCompletions {
		if c := found[path]; c == nil || c.ValidArgsFunction == nil {
			t.Errorf("argument completion for %q: no such command", path)
		}
	}
	for path, flags := range flagCompletions {
		c := found[path]
		if c == nil {
			t.Errorf("flag completion for %q: no such command", path)
			continue
		}
		for name := range flags {
			if _, ok := c.GetFlagCompletionFunc(name); !ok {
				t.Errorf("%s --%s: completion not registered (no such flag?)", path, name)
			}
		}
	}
}

// TestCompletionCASerials: `ca revoke` completes the serials of
// unrevoked certificates, `ca get` every serial.
func TestCompletionCASerials(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	runCLI(t, append(data, "ca", "init", "--algorithm", "ecdsa", "--out", filepath.Join(dir, "root.pem"))...)
	csr := filepath.Join(dir, "req.csr")
	goldenCSR(t, csr)
	vars := map[string]string{}
	for _, name := range []string{"a", "b"} {
		out := filepath.Join(dir, name+".pem")
		runCLI(t, append(data, "ca", "sign", "--profile", "signing", "--env", "TA", "--out", out, csr)...)
		savePEMSerial(out, name)(t, vars)
	}
	runCLI(t, append(data, "ca", "revoke", vars["a"])...)
	serials := func(args ...string) map[string]bool {
		got, _ := completeCLI(t, append(append(args, data...), "")...)
		m := map[string]bool{}
		for _, g := range got {
			m[strings.SplitN(g, "\t", 2)[0]] = true
		}
		return m
	}
	if got := serials("ca", "revoke"); got[vars["a"]] || !got[vars["b"]] {
		t.Errorf("ca revoke completes %v (revoked %s, valid %s)", got, vars["a"], vars["b"])
	}
	if got := serials("ca", "get"); !got[vars["a"]] || !got[vars["b"]] {
		t.Errorf("ca get completes %v, want %s and %s", got, vars["a"], vars["b"])
	}
}

// TestCompletionApstrataM2MIDs: the Apstrata and M2M verbs complete the
// ids that exist: live accounts' authKeys (as --auth-key too), M2MApiKey
// ids (revoke: the unrevoked ones), failed outbox jobs (none here).
func TestCompletionApstrataM2MIDs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte(goldenConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", filepath.Join(dir, "data"), "--config", cfg}
	var acct, gone, key, revoked map[string]any
	for _, c := range []struct {
		args []string
		out  *map[string]any
	}{
		{[]string{"apstrata", "account", "create", "--name", "acme"}, &acct},
		{[]string{"apstrata", "account", "create", "--name", "gone"}, &gone},
		{[]string{"m2m", "apikey", "create", "--partner", "acme"}, &key},
		{[]string{"m2m", "apikey", "create", "--partner", "acme"}, &revoked},
	} {
		if err := json.Unmarshal(runCLI(t, append(c.args, base...)...), c.out); err != nil {
			t.Fatal(err)
		}
	}
	runCLI(t, append([]string{"apstrata", "account", "delete", gone["id"].(string)}, base...)...)
	runCLI(t, append([]string{"m2m", "apikey", "revoke", revoked["id"].(string)}, base...)...)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"apstrata", "account", "get"}, []string{acct["id"].(string)}},
		{[]string{"apstrata", "member", "list", "--data-dir", base[1], "--auth-key"}, []string{acct["id"].(string)}},
		{[]string{"m2m", "apikey", "get"}, []string{key["id"].(string), revoked["id"].(string)}},
		{[]string{"m2m", "apikey", "revoke"}, []string{key["id"].(string)}},
		{[]string{"m2m", "outbox", "requeue"}, nil},
	} {
		args := append(append([]string{}, c.args...), base...)
		if c.args[len(c.args)-1] == "--auth-key" {
			args = c.args // the flag's value comes last
		}
		got, directive := completeCLI(t, append(args, "")...)
		if strings.Join(got, " ") != strings.Join(c.want, " ") && !(len(got) == 2 && len(c.want) == 2 && got[0] == c.want[1] && got[1] == c.want[0]) {
			t.Errorf("__complete %v: %v, want %v", c.args, got, c.want)
		}
		if directive != ":4" {
			t.Errorf("__complete %v: directive %s", c.args, directive)
		}
	}
}
