package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSubscriptionCommands: resources, plans and subscriptions made and
// removed with the CLI on one data directory; refusals are errors.
func TestSubscriptionCommands(t *testing.T) {
	dir := t.TempDir()
	var org struct {
		OrgID string `json:"org_id"`
	}
	if err := json.Unmarshal(runCLI(t, "tpv", "brand", "create", "--data-dir", dir, "--name", "Sub Brand"), &org); err != nil || org.OrgID == "" {
		t.Fatal(org, err)
	}
	runCLI(t, "subscription", "resource", "add", "connectivity", "--data-dir", dir, "--path", "/iot-connectivity/v1", "--method", "get", "--scheme", "bearer,pop")
	runCLI(t, "subscription", "plan", "add", "basic", "--data-dir", dir, "--rate", "10", "--rate-period", "1s", "--quota", "1000", "--quota-period", "24h")
	var sub struct{ ID, Resource, Plan string }
	if err := json.Unmarshal(runCLI(t, "subscription", "subscribe", "--data-dir", dir, "--org", org.OrgID, "--resource", "connectivity", "--plan", "basic"), &sub); err != nil || sub.ID == "" {
		t.Fatal(sub, err)
	}
	var res []struct {
		Name    string
		Methods []string
		Schemes []string
	}
	json.Unmarshal(runCLI(t, "subscription", "resource", "list", "--data-dir", dir), &res)
	if len(res) != 1 || res[0].Methods[0] != "GET" || strings.Join(res[0].Schemes, ",") != "bearer,pop" {
		t.Fatalf("resources %+v", res)
	}
	if msg := runCLIErr(t, "subscription", "plan", "rm", "basic", "--data-dir", dir); !strings.Contains(msg, "used by subscription") {
		t.Fatalf("plan in use removed: %s", msg)
	}
	if msg := runCLIErr(t, "subscription", "resource", "add", "bad", "--data-dir", dir, "--path", "/x", "--scheme", "telepathy"); !strings.Contains(msg, "unknown scheme") {
		t.Fatalf("bad scheme: %s", msg)
	}
	runCLI(t, "subscription", "unsubscribe", sub.ID, "--data-dir", dir)
	runCLI(t, "subscription", "plan", "rm", "basic", "--data-dir", dir)
	var subs []any
	json.Unmarshal(runCLI(t, "subscription", "list", "--data-dir", dir), &subs)
	if len(subs) != 0 {
		t.Fatalf("left: %v", subs)
	}
}
