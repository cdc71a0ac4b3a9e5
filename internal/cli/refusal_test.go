package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestEverySchemeRefusalRetryAfter: every family's scheme, as the registry
// builds them for the gateway, writes Retry-After through the one rule
// (httpapi.SetRetryAfter): the error's own hint, 1 s while a dependency is
// down or for a limit without a hint, none otherwise; and answers a
// rate limit 429 and a dependency fault 503 in its own shape.
func TestEverySchemeRefusalRetryAfter(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	cfg := config.Default()
	cfg.M2M.Enabled = false // its SOAP listeners need certificates; it has no HTTP scheme
	built, err := Families().Build(context.Background(), family.Deps{Config: &cfg, Svc: svc, Log: svc.Log, CA: ca.New(cfg.CA, ca.DepsFrom(svc))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range built.Set {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, want := range []string{"apstrata", "oauth2-bearer", "taap-pop", "tpv-signature"} {
		if !slices.Contains(names, want) {
			t.Fatalf("schemes %v lack %s", names, want)
		}
	}
	down := core.Wrap(core.KindUnavailable, "database unavailable", context.DeadlineExceeded)
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"rate limited with its hint", &core.Error{Kind: core.KindRateLimited, Reason: "too many failed authentications; retry in 7 s", RetryAfter: 6500 * time.Millisecond}, 429, "7"},
		{"rate limited without a hint", core.E(core.KindRateLimited, "slow down"), 429, "1"},
		{"quota", &core.Error{Kind: core.KindQuotaExceeded, Reason: "quota used up", RetryAfter: time.Hour}, 429, "3600"},
		{"database down", down, 503, "1"},
		{"bad credentials", core.E(core.KindUnauthenticated, "invalid"), 0, ""},
	} {
		for _, name := range names {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				sc := built.Set[name]
				r := httptest.NewRequest(http.MethodGet, "/apsdb/rest/K/Query", nil)
				w := httptest.NewRecorder()
				sc.WriteRefusal(w, r, tc.err)
				if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
					t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
				}
				if tc.status != 0 && w.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
				}
				if w.Code < 400 || w.Body.Len() == 0 {
					t.Fatalf("refusal %d %q", w.Code, w.Body)
				}
			})
		}
	}
}
