package oauth2_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// A failed login's username is attacker input: 4 kB (the form limit) with newlines (a
// forged log line), ANSI escapes and a bidi override must reach neither
// the log nor the audit record as sent, but bounded and escaped.
func TestAttack_FailedUsernameLoggedAsSent(t *testing.T) {
	var logs agtest.SyncBuffer
	e := start(t, agtest.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))}, false, nil)
	forged := "\nlevel=INFO msg=\"auth event\" action=issue subject=admin\n"
	username := "victim\x1b[2J\x1b[31m" + forged + "\u202e" + strings.Repeat("A", 3900) // the form caps values at 4 kB
	r := e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"password"}, "username": {username}, "password": {"x"}}.Encode())
	checkError(t, r, 400, "invalid_grant", "invalid key or secret", "")

	events, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure})
	if err != nil {
		t.Fatal(err)
	}
	var subject string
	for _, ev := range events {
		if strings.HasPrefix(ev.Subject, "victim") {
			subject = ev.Subject
		}
	}
	if subject == "" {
		t.Fatalf("no audited failure for the username; events %+v", events)
	}
	if len(subject) > 2*core.MaxLoggedFailedSubject {
		t.Errorf("audited subject is %d bytes, want it bounded", len(subject))
	}
	if strings.ContainsAny(subject, "\x1b\n\r\u202e") {
		t.Errorf("audited subject holds control or bidi characters: %q", subject)
	}
	if !strings.HasPrefix(subject, `victim\x1b[2J\x1b[31m\x0alevel=INFO`) || !strings.Contains(subject, "sha256:") {
		t.Errorf("audited subject %q is not the escaped, truncated, hashed form", subject)
	}
	out := logs.String()
	if strings.Contains(out, strings.Repeat("A", 100)) || strings.Contains(out, "\x1b") || strings.Contains(out, "\nlevel=INFO msg=\"auth event\" action=issue") {
		t.Errorf("log holds the username as sent:\n%.2000s", out)
	}
	if !strings.Contains(out, `victim\\x1b[2J`) {
		t.Errorf("log has no escaped form of the failed username:\n%.2000s", out)
	}
}
