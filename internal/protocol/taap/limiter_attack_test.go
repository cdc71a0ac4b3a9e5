package taap_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// fromAddr sets X-Forwarded-For on every request (the test client is a trusted proxy).
type fromAddr struct{ addr string }

func (f fromAddr) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// TestAttack_TAAPClientSecretGuessingLimited: Basic client secrets at
// POST /oauth2/v6/tokens used to be answered 401 invalid_client without
// limit. Now the guesses of one client id answered from one address are
// bounded (10 per 5 minutes by default), then 429 slow_down with
// Retry-After, also for the right secret, and audited; the client from
// another address still gets its tokens.
func TestAttack_TAAPClientSecretGuessingLimited(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": func(testing.TB) string { return "" }, "postgres": pgtest.DSN} {
		t.Run(name, func(t *testing.T) {
			proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
			f := newFixture(t, fixtureOpts{Options: agtest.Options{PostgresDSN: dsn(t)}, addr: proxy})
			const attacker = "203.0.113.9"
			limit := core.DefaultGuardLimits().Pair
			answered := 0
			for i := range 3 * limit {
				req, _ := http.NewRequest(http.MethodPost, f.env.URL+"/oauth2/v6/tokens", nil)
				req.SetBasicAuth(f.client.ClientID, "guess-"+strconv.Itoa(i))
				req.Header.Set("X-Forwarded-For", attacker)
				r := send(t, req)
				switch {
				case r.status == 401 && r.code() == "invalid_client":
					answered++
				case r.status == 429 && r.code() == "slow_down" && strings.Contains(r.desc(), "too many failed authentications"):
				default:
					t.Fatalf("guess %d: %d %v", i, r.status, r.body)
				}
			}
			if answered != limit {
				t.Fatalf("%d of %d guesses answered, want the limit %d", answered, 3*limit, limit)
			}
			req, _ := http.NewRequest(http.MethodPost, f.env.URL+"/oauth2/v6/tokens", nil)
			req.SetBasicAuth(f.client.ClientID, f.client.ClientSecret)
			req.Header.Set("X-Forwarded-For", attacker)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("right secret from the guessing address: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			// The client, PoP-signing from its own address, still gets tokens.
			f.sdk.HTTP = &http.Client{Transport: fromAddr{"198.51.100.4"}}
			if tr, err := f.sdk.Token(context.Background()); err != nil || tr.AccessToken == "" {
				t.Fatalf("token from the client's address: %v", err)
			}
			events, err := f.env.Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "taap"})
			if err != nil {
				t.Fatal(err)
			}
			limited := 0
			for _, ev := range events {
				if strings.Contains(ev.Reason, "too many failed authentications") {
					limited++
				}
			}
			if want := 2*limit + 1; limited != want {
				t.Fatalf("audited rate-limited failures: %d, want %d", limited, want)
			}
		})
	}
}
