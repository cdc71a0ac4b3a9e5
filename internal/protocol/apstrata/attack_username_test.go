package apstrata_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

// A failed login's user name is attacker input: 10 kB with a forged log
// line and ANSI escapes in apsws.user must reach the audit record bounded
// and escaped, not as sent.
func TestAttack_FailedUsernameLoggedAsSent(t *testing.T) {
	e := newEnv(t, false, nil)
	user := "jane\x1b[2J\nlevel=INFO msg=forged\n" + strings.Repeat("B", 10<<10)
	form := url.Values{"apsws.time": {itoa(e.Clock.Now().Unix())}, "apsws.authSig": {"00"}, "apsws.user": {user}}
	resp, err := http.Post(e.URL+"/apsdb/rest/"+e.acct.AuthKey+"/VerifyCredentials", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Invalid signature") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	events, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events {
		if !strings.Contains(ev.Reason, "jane") {
			continue
		}
		found = true
		if len(ev.Reason) > core.MaxLoggedReason+64 || strings.ContainsAny(ev.Reason+ev.Subject, "\x1b\n") || strings.Contains(ev.Reason, strings.Repeat("B", 600)) {
			t.Fatalf("audited as sent (%d bytes): %.300q", len(ev.Reason), ev.Reason)
		}
		if !strings.Contains(ev.Reason, `jane\x1b[2J\x0alevel=INFO`) || !strings.Contains(ev.Reason, "sha256:") {
			t.Fatalf("reason %q is not the escaped, truncated, hashed form", ev.Reason)
		}
	}
	if !found {
		t.Fatalf("no audited failure names the user; events %+v", events)
	}
}
