package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestExchangeRefreshGrace is the one rotation rule both families use, with
// each family's grace: 0 (TAAP's default) makes any second exchange reuse,
// which revokes the family; a window (OAuth2's 10 s) lets one concurrent
// retry through, refuses a third without revoking, and treats the token as
// reuse once the window is over.
func TestExchangeRefreshGrace(t *testing.T) {
	type step struct {
		advance time.Duration
		want    string // "ok", "retry", "refused" (replayed, nothing revoked) or "reused"
	}
	for _, tc := range []struct {
		name  string
		grace time.Duration
		steps []step
	}{
		{"no grace (taap default)", 0, []step{{0, "ok"}, {0, "reused"}}},
		{"grace (oauth2 default)", 10 * time.Second, []step{{0, "ok"}, {time.Second, "retry"}, {time.Second, "refused"}}},
		{"reuse after the grace", 10 * time.Second, []step{{0, "ok"}, {11 * time.Second, "reused"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
			org, err := svc.CreateOrganisation(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "alice")
			if err != nil {
				t.Fatal(err)
			}
			_, rt, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenRefresh, OrgID: org.ID, PrincipalID: p.ID, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				ex, err := svc.Tokens.ExchangeRefresh(ctx, rt, tc.grace)
				got := "ok"
				switch {
				case ex.Reused && core.KindOf(err) == core.KindReplayed:
					got = "reused"
					ev := ex.ReuseEvent(rt)
					if ev.Action != core.AuditRevoke || ev.Outcome != core.OutcomeFailure || ev.Subject != rt.ID || ev.OrgID != org.ID ||
						!strings.Contains(ev.Reason, "reuse detected; revoked family "+rt.FamilyID+" (1 tokens)") {
						t.Fatalf("reuse event %+v", ev)
					}
				case core.KindOf(err) == core.KindReplayed:
					got = "refused"
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				case ex.Retry:
					got = "retry"
				}
				if got != s.want {
					t.Fatalf("step %d: %s (%+v, %v), want %s", i, got, ex, err, s.want)
				}
			}
			cur, gerr := svc.Store.GetToken(ctx, rt.ID)
			revoked := gerr == nil && cur.RevokedAt != nil
			if want := tc.steps[len(tc.steps)-1].want == "reused"; revoked != want {
				t.Fatalf("revoked %v, want %v (%v)", revoked, want, gerr)
			}
		})
	}
}

func TestCheckRefreshGrace(t *testing.T) {
	for d, ok := range map[time.Duration]bool{0: true, 10 * time.Second: true, core.MaxRefreshGrace: true, -time.Second: false, core.MaxRefreshGrace + 1: false} {
		if err := core.CheckRefreshGrace(d); (err == nil) != ok {
			t.Errorf("%v: %v", d, err)
		}
	}
}
