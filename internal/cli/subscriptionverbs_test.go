package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSubscriptionVerbs: resources and plans take create|list|get|delete
// with add and rm kept as aliases; a subscription is shown by id; an
// unknown name or id exits 3, a plan still used exits 5.
func TestSubscriptionVerbs(t *testing.T) {
	data := []string{"--data-dir", t.TempDir()}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLIExit(t, append(args, data...)...)
	}
	var org map[string]string
	mustJSONOut(t, runCLI(t, append([]string{"admin", "org", "create", "--name", "acme"}, data...)...), &org)
	for _, verb := range []string{"create", "add"} {
		name := "res-" + verb
		if code, out, stderr := run("subscription", "resource", verb, name, "--path", "/"+name); code != 0 || !strings.Contains(out, `"name": "`+name+`"`) {
			t.Fatalf("resource %s: exit %d %s %s", verb, code, out, stderr)
		}
		if code, out, stderr := run("subscription", "plan", verb, "plan-"+verb, "--rate", "5"); code != 0 || !strings.Contains(out, `"rate": 5`) {
			t.Fatalf("plan %s: exit %d %s %s", verb, code, out, stderr)
		}
	}
	if code, out, _ := run("subscription", "resource", "get", "res-add"); code != 0 || !strings.Contains(out, `"/res-add"`) {
		t.Errorf("resource get: exit %d %s", code, out)
	}
	if code, out, _ := run("subscription", "plan", "get", "plan-create", "-o", "table"); code != 0 || !strings.Contains(out, "rate  ") {
		t.Errorf("plan get -o table: exit %d %s", code, out)
	}
	var sub map[string]string
	code, out, _ := run("subscription", "subscribe", "--org", org["id"], "--resource", "res-create", "--plan", "plan-create")
	if err := json.Unmarshal([]byte(out), &sub); code != 0 || err != nil {
		t.Fatalf("subscribe: exit %d %s", code, out)
	}
	var got map[string]string
	code, out, _ = run("subscription", "get", sub["id"])
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got["resource"] != "res-create" || got["plan"] != "plan-create" || got["org_id"] != org["id"] {
		t.Errorf("subscription get: exit %d %s", code, out)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"subscription", "get", "nosuch"}, exitNotFound},
		{[]string{"subscription", "resource", "get", "nosuch"}, exitNotFound},
		{[]string{"subscription", "plan", "get", "nosuch"}, exitNotFound},
		{[]string{"subscription", "plan", "delete", "plan-create"}, exitConflict}, // still used
		{[]string{"subscription", "resource", "rm", "res-add"}, exitOK},
		{[]string{"subscription", "resource", "delete", "res-create"}, exitOK}, // and its subscription
		{[]string{"subscription", "get", sub["id"]}, exitNotFound},
		{[]string{"subscription", "plan", "rm", "plan-add"}, exitOK},
		{[]string{"subscription", "plan", "delete", "plan-create"}, exitOK},
		{[]string{"subscription", "resource", "delete", "res-add"}, exitNotFound},
	} {
		if code, out, stderr := run(c.args...); code != c.want || (c.want == exitOK && out != "") {
			t.Errorf("authgate %s: exit %d (want %d), stdout %q, stderr %q", strings.Join(c.args, " "), code, c.want, out, stderr)
		}
	}
	if code, out, _ := run("subscription", "resource", "list"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("resources after deleting both: exit %d %s", code, out)
	}
}
