package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/sqlite"
)

// TestAdminAuditFilters: `authgate admin audit` streams the entries each
// filter selects as JSON lines (snake_case fields), newest first, paging
// through more entries than one store page, and refuses bad flags with the
// usage exit code.
func TestAdminAuditFilters(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "migrate", "--data-dir", dir)
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "authgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	var events []core.AuditEvent
	// More than one page of the stream (auditPage), one hour apart, oldest first.
	n := auditPage + 20
	for i := 0; i < n; i++ {
		e := core.AuditEvent{At: now.Add(-time.Duration(n-i) * time.Hour), Action: core.AuditIssue, Protocol: "oauth2",
			OrgID: "org-a", PrincipalID: "p-a", Subject: "key", Outcome: core.OutcomeSuccess}
		if i%10 == 0 {
			e.Action, e.Outcome, e.Protocol, e.OrgID, e.PrincipalID, e.Reason = core.AuditAuthFailure, core.OutcomeFailure, "tpv", "org-b", "p-b", "bad signature"
		}
		events = append(events, e)
	}
	if err := st.AppendAudit(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	failures := (n + 9) / 10
	since := now.Add(-50 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name  string
		args  []string
		want  int
		check func(e map[string]any) bool
	}{
		{"default limit", nil, 50, nil},
		{"everything", []string{"--limit", "0"}, n, nil},
		{"failures only", []string{"--limit", "0", "--result", "failure"}, failures, func(e map[string]any) bool { return e["result"] == "failure" && e["reason"] == "bad signature" }},
		{"organisation", []string{"--limit", "0", "--org", "org-a"}, n - failures, func(e map[string]any) bool { return e["org_id"] == "org-a" }},
		{"principal and action", []string{"--limit", "0", "--principal", "p-b", "--action", "auth_failure"}, failures, func(e map[string]any) bool { return e["principal_id"] == "p-b" }},
		{"protocol", []string{"--limit", "0", "--protocol", "tpv"}, failures, func(e map[string]any) bool { return e["protocol"] == "tpv" }},
		{"since an RFC 3339 time", []string{"--limit", "0", "--since", since}, 50, nil},
		{"since a duration", []string{"--limit", "0", "--since", "50h30m"}, 50, nil},
		{"until", []string{"--limit", "0", "--until", since}, n - 50, nil},
		{"time range", []string{"--limit", "0", "--since", "10h30m", "--until", "5h30m"}, 5, nil},
		{"limit across pages", []string{"--limit", "510"}, 510, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runCLI(t, append([]string{"admin", "audit", "--data-dir", dir}, tt.args...)...)
			var got []map[string]any
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				var e map[string]any
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
				}
				got = append(got, e)
			}
			if len(got) != tt.want {
				t.Fatalf("%d entries, want %d", len(got), tt.want)
			}
			var last time.Time
			for i, e := range got {
				at, err := time.Parse(time.RFC3339, e["at"].(string))
				if err != nil {
					t.Fatalf("entry %d at: %v", i, err)
				}
				if i > 0 && at.After(last) {
					t.Fatalf("entry %d is newer than the one before: not newest first", i)
				}
				last = at
				if _, ok := e["id"].(float64); !ok || e["action"] == nil {
					t.Fatalf("entry %d lacks snake_case fields: %v", i, e)
				}
				if tt.check != nil && !tt.check(e) {
					t.Fatalf("entry %d does not match the filter: %v", i, e)
				}
			}
		})
	}
	for _, bad := range [][]string{{"--result", "maybe"}, {"--since", "yesterday"}, {"--limit", "-1"}, {"--until", "-5h"}} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"admin", "audit", "--data-dir", dir}, bad...), strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), bad[0]) || out.Len() != 0 {
			t.Errorf("admin audit %v: exit %d, stderr %q, stdout %q; want exit %d naming the flag", bad, code, errb.String(), out.String(), exitUsage)
		}
	}
}
