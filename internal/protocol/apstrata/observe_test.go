package apstrata_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/obstest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// TestTokenActionOutcomesObserved: every GenerateToken and RenewToken is
// one authentication of the apstrata family labelled apstrata-token (the
// grant as a whole, not also its signature check as an apstrata
// authentication), on authgate_auth_total and on the dashboard's
// counters, a good and a bad one alike; refusals raised in the
// protocol's own terms count under the core kind they stand for. A grant
// the failed-authentication limiter refuses is also one limiter refusal
// of apstrata/apstrata-token; other actions stay apstrata.
func TestTokenActionOutcomesObserved(t *testing.T) {
	var probe *obstest.Probe
	proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	e := agtest.Start(t, agtest.Options{ManualClock: start, TLS: true, AuthLimits: core.GuardLimits{Pair: 1, Address: 100, Credential: 100, Window: time.Minute}},
		func(svc core.Services) []httpapi.Module {
			probe = obstest.New(svc.Clock)
			return []httpapi.Module{apstrata.New(apstrata.DefaultConfig(), apstrata.DepsFrom(probe.Observe(svc), proxy))}
		})
	ctx := context.Background()
	acct, err := apstrata.CreateAccount(ctx, e.Svc, "acme")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := apstrata.CreateMember(ctx, e.Svc, acct.AuthKey, "jane", "", false)
	if err != nil {
		t.Fatal(err)
	}
	user := func(password, addr string) *sdk.Client {
		c := &sdk.Client{ServiceURL: e.URL + "/apsdb/rest", AuthKey: acct.AuthKey, User: "jane", Password: password, HTTP: e.Srv.Client(), Now: e.Clock.Now}
		if addr != "" {
			c.HTTP = &http.Client{Transport: fromAddr{addr: addr, rt: e.Srv.Client().Transport}}
		}
		return c
	}
	call := func(c *sdk.Client, action string, params url.Values) func() {
		return func() {
			e.Clock.Advance(time.Second) // a fresh signature: each is good once
			_, _ = c.Call(ctx, http.MethodGet, action, params)
		}
	}
	r, err := user(pw, "").Call(ctx, http.MethodGet, "GenerateToken", url.Values{"apsdb.tokenExpires": {"600"}, "apsdb.tokenLifetime": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := r.Result["apsdb.authToken"]
	for _, c := range []struct {
		name, scheme, want string
		do                 func()
	}{
		{"generate", apstrata.GrantToken, "success/ok", call(user(pw, ""), "GenerateToken", nil)},
		{"generate wrong password", apstrata.GrantToken, "failure/unauthenticated", call(user("wrong", "198.51.100.1"), "GenerateToken", nil)},
		{"generate anonymous", apstrata.GrantToken, "failure/invalid_input", func() {
			resp, err := e.Srv.Client().Get(e.URL + "/apsdb/rest/" + acct.AuthKey + "/GenerateToken")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}},
		{"generate with a foreign parameter", apstrata.GrantToken, "failure/invalid_input", call(user(pw, ""), "GenerateToken", url.Values{"x": {"1"}})},
		{"renew", apstrata.GrantToken, "success/ok", func() { _, _ = user(pw, "").CallWithToken(ctx, http.MethodPost, "RenewToken", "jane", tok, nil) }},
		{"renew an unknown token", apstrata.GrantToken, "failure/unauthenticated", func() {
			_, _ = user(pw, "").CallWithToken(ctx, http.MethodPost, "RenewToken", "jane", "no-such-token", nil)
		}},
		{"verify credentials (not a grant)", apstrata.SchemeName, "success/ok", call(user(pw, ""), "VerifyCredentials", nil)},
		{"generate guessed", apstrata.GrantToken, "failure/unauthenticated", call(user("guess", "203.0.113.1"), "GenerateToken", nil)},
		{"generate limited", apstrata.GrantToken, "failure/rate_limited", call(user("guess", "203.0.113.1"), "GenerateToken", nil)},
		{"generate right password from the limited pair", apstrata.GrantToken, "failure/rate_limited", call(user(pw, "203.0.113.1"), "GenerateToken", nil)},
	} {
		t.Run(c.name, func(t *testing.T) { probe.Once(t, apstrata.Family, c.scheme, c.want, c.do) })
	}
	probe.Lint(t)
}

// fromAddr sets X-Forwarded-For on every request (the test client is a trusted proxy).
type fromAddr struct {
	addr string
	rt   http.RoundTripper
}

func (f fromAddr) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.rt.RoundTrip(r)
}
