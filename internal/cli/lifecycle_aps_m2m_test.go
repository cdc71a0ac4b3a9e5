package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/sqlite"
)

// TestM2MOutboxCLI: `m2m outbox list` shows a failed callback's state,
// attempts and error (never the message it sends); `m2m outbox requeue`
// makes it due again once, and refuses a job that has not failed (exit
// 5), another queue's job and an unknown id (exit 3).
func TestM2MOutboxCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte(goldenConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", dir, "--config", cfg}
	runCLI(t, append([]string{"m2m", "apikey", "create", "--partner", "acme"}, base...)...) // provisions acme
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "authgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now().UTC()
	for _, j := range []core.Job{
		{ID: "admcl-r1", Queue: "m2m.TA", Payload: json.RawMessage(`{"kind":"admcl","request_id":"r1","partner":"acme"}`), RunAt: now, CreatedAt: now},
		{ID: "moncl-e1", Queue: "m2m.TA", Payload: json.RawMessage(`{"kind":"moncl","partner":"acme","event":{"EventID":"e1","ICCID":"8949020000000000025"}}`), RunAt: now.Add(time.Hour), CreatedAt: now.Add(time.Second)},
		{ID: "other-q", Queue: "gateway", Payload: json.RawMessage(`{}`), RunAt: now, CreatedAt: now},
	} {
		if err := st.EnqueueJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FailJob(ctx, "admcl-r1", now, "partner answered state code 500: busy"); err != nil {
		t.Fatal(err)
	}
	if err := st.FailJob(ctx, "other-q", now, "x"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var l struct {
		Items []map[string]any
		Total int
	}
	if err := json.Unmarshal(runCLI(t, append([]string{"m2m", "outbox", "list"}, base...)...), &l); err != nil || l.Total != 2 {
		t.Fatalf("outbox list: %+v %v", l, err)
	}
	for _, j := range l.Items {
		if j["id"] == "moncl-e1" && (j["state"] != "pending" || j["next_attempt_at"] == nil || j["iccid"] != "8949020000000000025") {
			t.Fatalf("pending job %v", j)
		}
		if j["id"] == "admcl-r1" && (j["state"] != "failed" || j["last_error"] != "partner answered state code 500: busy" || j["next_attempt_at"] != nil) {
			t.Fatalf("failed job %v", j)
		}
		if _, ok := j["payload"]; ok {
			t.Fatalf("the listing shows the payload: %v", j)
		}
	}
	if err := json.Unmarshal(runCLI(t, append([]string{"m2m", "outbox", "list", "--state", "failed"}, base...)...), &l); err != nil || l.Total != 1 {
		t.Fatalf("failed jobs: %+v %v", l, err)
	}
	var j map[string]any
	if err := json.Unmarshal(runCLI(t, append([]string{"m2m", "outbox", "requeue", "admcl-r1"}, base...)...), &j); err != nil || j["state"] != "pending" {
		t.Fatalf("requeue: %v %v", j, err)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"m2m", "outbox", "requeue", "admcl-r1"}, exitConflict}, // pending now
		{[]string{"m2m", "outbox", "requeue", "moncl-e1"}, exitConflict},
		{[]string{"m2m", "outbox", "requeue", "other-q"}, exitNotFound}, // not an M2M job
		{[]string{"m2m", "outbox", "requeue", "nosuch"}, exitNotFound},
		{[]string{"m2m", "outbox", "requeue"}, exitUsage},
		{[]string{"m2m", "outbox", "list", "--state", "stuck"}, exitUsage},
	} {
		if code, stdout, stderr := runCLIExit(t, append(tt.args, base...)...); code != tt.code || stdout != "" {
			t.Errorf("authgate %v: exit %d (stdout %q, stderr %q), want %d", tt.args, code, stdout, stderr, tt.code)
		}
	}
}

// TestAttack_ApstrataM2MLifecycleIDs: the lifecycle verbs refuse unknown,
// huge and misplaced ids with the documented exit codes and print nothing;
// the new create verbs provision nothing for a partner the configuration
// does not list.
func TestAttack_ApstrataM2MLifecycleIDs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte(goldenConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", filepath.Join(dir, "data"), "--config", cfg}
	var acct map[string]string
	if err := json.Unmarshal(runCLI(t, append([]string{"apstrata", "account", "create", "--name", "acme"}, base...)...), &acct); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 100000)
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"apstrata", "account", "get", "nosuch"}, exitNotFound},
		{[]string{"apstrata", "account", "get", huge}, exitNotFound},
		{[]string{"apstrata", "account", "delete", "nosuch"}, exitNotFound},
		{[]string{"apstrata", "account", "bogus"}, exitUsage},
		{[]string{"apstrata", "account", "get"}, exitUsage},
		{[]string{"apstrata", "member", "get", "nobody", "--auth-key", acct["auth_key"]}, exitNotFound},
		{[]string{"apstrata", "member", "get", "nobody", "--auth-key", "nosuch"}, exitNotFound},
		{[]string{"apstrata", "member", "delete", huge, "--auth-key", acct["auth_key"]}, exitNotFound},
		{[]string{"apstrata", "member", "get", "nobody"}, exitUsage}, // --auth-key is required
		{[]string{"apstrata", "member", "list", "--auth-key", "nosuch"}, exitNotFound},
		{[]string{"apstrata", "member", "create", "--auth-key", acct["auth_key"], "--name", huge}, exitUsage},
		{[]string{"m2m", "apikey", "create", "--partner", "NOSUCH"}, exitNotFound},
		{[]string{"m2m", "apikey", "create", "--partner", "acme", "--env", "PE"}, exitNotFound},
		{[]string{"m2m", "apikey", "get", "nosuch"}, exitNotFound},
		{[]string{"m2m", "apikey", "revoke", acct["owner_id"]}, exitNotFound},
		{[]string{"m2m", "apikey", "revoke", huge}, exitNotFound},
		{[]string{"m2m", "partner", "get", "NOSUCH"}, exitNotFound},
		{[]string{"m2m", "sim", "add", "8949020000000000025", "--partner", "NOSUCH"}, exitNotFound},
		{[]string{"m2m", "sim", "add", "8949020000000000025", "--iccid", "8949020000000000033", "--partner", "acme"}, exitUsage},
		{[]string{"m2m", "sim", "get", "8949020000000000099"}, exitNotFound},
		{[]string{"m2m", "sim", "get", "8949020000000000025", "--env", "XX"}, exitUsage},
		{[]string{"m2m", "sim", "delete", huge}, exitNotFound},
	} {
		if code, stdout, stderr := runCLIExit(t, append(tt.args, base...)...); code != tt.code || stdout != "" {
			t.Errorf("authgate %.80v: exit %d (stdout %q, stderr %.200q), want %d", tt.args, code, stdout, stderr, tt.code)
		}
	}
	var orgs struct{ Total int }
	if err := json.Unmarshal(runCLI(t, append([]string{"admin", "org", "list"}, base...)...), &orgs); err != nil || orgs.Total != 1 {
		t.Fatalf("organisations after the refused commands: %+v (%v)", orgs, err)
	}
}

// goldenConfig is a configuration in which acme is a TA partner.
const goldenConfig = "m2m:\n  ta:\n    partners:\n      - name: acme\n"
