package taap_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestTokenOutcomesObserved: every request to the token endpoint is one
// authentication of the taap family labelled taap-token, on
// authgate_auth_total and on the dashboard's counters, a good and a bad
// one alike; a request the failed-authentication limiter refuses is also
// one limiter refusal of taap/taap-token.
func TestTokenOutcomesObserved(t *testing.T) {
	proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f := newFixture(t, fixtureOpts{addr: proxy,
		Options: agtest.Options{AuthLimits: core.GuardLimits{Pair: 1, Address: 100, Credential: 100, Window: time.Minute}}})
	basic := func(id, secret, addr string) func() {
		return func() {
			req, _ := http.NewRequest(http.MethodPost, f.env.URL+"/oauth2/v6/tokens", nil)
			if id != "" {
				req.SetBasicAuth(id, secret)
			}
			req.Header.Set("X-Forwarded-For", addr)
			send(t, req)
		}
	}
	for _, c := range []struct {
		name, want string
		do         func()
	}{
		{"good", "success/ok", func() { f.accessToken(t) }},
		{"no client authentication", "failure/unauthenticated", basic("", "", "198.51.100.1")},
		{"unknown client", "failure/unauthenticated", basic("no-such-client", "x", "198.51.100.2")},
		{"right secret without a PoP token", "failure/unauthenticated", basic(f.client.ClientID, f.client.ClientSecret, "198.51.100.3")},
		{"wrong secret", "failure/unauthenticated", basic(f.client.ClientID, "wrong", "203.0.113.1")},
		{"limited", "failure/rate_limited", basic(f.client.ClientID, "wrong", "203.0.113.1")},
		{"right secret from the limited pair", "failure/rate_limited", basic(f.client.ClientID, f.client.ClientSecret, "203.0.113.1")},
	} {
		t.Run(c.name, func(t *testing.T) { f.probe.Once(t, "taap", taap.GrantToken, c.want, c.do) })
	}
	f.probe.Lint(t)
}
