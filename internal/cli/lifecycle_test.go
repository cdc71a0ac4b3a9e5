package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttack_AdminLifecycleIDs: list, get and disable take ids only as
// data — another organisation's objects never show in a listing scoped to
// one, odd or huge ids are "not found" (exit 3), a listing without an
// owner is a usage error, and a disabled principal is disabled.
func TestAttack_AdminLifecycleIDs(t *testing.T) {
	data := []string{"--data-dir", t.TempDir()}
	run := func(args ...string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(runCLI(t, append(args, data...)...), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	type owner struct{ org, principal, credential string }
	mk := func(name string) owner {
		o := run("admin", "org", "create", "--name", name)["id"].(string)
		p := run("admin", "principal", "create", "--org", o, "--kind", "application", "--name", "app")["id"].(string)
		c := run("admin", "credential", "create", "--principal", p)["id"].(string)
		return owner{o, p, c}
	}
	a, b := mk("org-a"), mk("org-b")
	for _, list := range [][]string{{"--org", a.org}, {"--principal", a.principal}} {
		out, _ := json.Marshal(run(append([]string{"admin", "credential", "list"}, list...)...))
		if !strings.Contains(string(out), a.credential) || strings.Contains(string(out), b.credential) || strings.Contains(string(out), b.org) {
			t.Fatalf("credential list %v: %s", list, out)
		}
		if strings.Contains(string(out), "secret") || strings.Contains(string(out), "hash") || strings.Contains(string(out), "sealed") {
			t.Fatalf("credential list shows secret material: %s", out)
		}
	}
	// An organisation filter with a principal of another one matches nothing.
	if got := run("admin", "credential", "list", "--org", a.org, "--principal", b.principal); got["total"] != float64(0) {
		t.Fatalf("--org A --principal B: %v", got)
	}
	for _, id := range []string{"nosuch", "../../etc/passwd", "' OR '1'='1", "%00", strings.Repeat("f", 100000), b.credential + " ", strings.ToUpper(b.credential)} {
		for _, verb := range [][]string{{"admin", "credential", "get"}, {"admin", "org", "get"}, {"admin", "principal", "get"}, {"admin", "principal", "disable"}, {"admin", "credential", "revoke"}} {
			code, stdout, stderr := runCLIExit(t, append(append(verb, id), data...)...)
			if code != exitNotFound || stdout != "" || len(stderr) > 500 {
				t.Fatalf("%v %.40q: exit %d, stdout %q, stderr %.200q", verb, id, code, stdout, stderr)
			}
		}
	}
	if code, _, _ := runCLIExit(t, append([]string{"admin", "credential", "list"}, data...)...); code != exitUsage {
		t.Fatalf("credential list without --org or --principal: exit %d", code)
	}
	if code, _, _ := runCLIExit(t, append([]string{"admin", "credential", "revoke", a.credential, "--id", b.credential}, data...)...); code != exitUsage {
		t.Fatalf("revoke with two different ids: exit %d", code)
	}
	run("admin", "principal", "disable", b.principal)
	if got := run("admin", "principal", "get", b.principal); got["disabled"] != true {
		t.Fatalf("after disable: %v", got)
	}
	if got := run("admin", "principal", "get", a.principal); got["disabled"] != false {
		t.Fatalf("the other organisation's principal: %v", got)
	}
	// The deprecated --id still revokes; the notice goes to stderr, not
	// into the JSON on stdout.
	code, stdout, stderr := runCLIExit(t, append([]string{"admin", "credential", "revoke", "--id", a.credential}, data...)...)
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || got["revoked"] != a.credential || !strings.Contains(stderr, "--id is deprecated") {
		t.Fatalf("revoke --id: exit %d, stdout %q (%v), stderr %q", code, stdout, err, stderr)
	}
}
