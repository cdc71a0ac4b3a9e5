package gateway_test

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/subscription"
)

// cachingForwardAuth is the endpoint with forward_auth_cache_ttl = ttl.
func cachingForwardAuth(t *testing.T, ttl time.Duration, routes ...gateway.Route) (*fixture, *gateway.ForwardAuth) {
	t.Helper()
	f := newFixtureConfig(t, func(c *gateway.Config) { c.ForwardAuthCacheTTL = ttl }, func(d *gateway.Deps) {
		d.Addr = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix(frontEnd + "/32")}}
	}, routes...)
	// Callers whose scheme says the acceptance is reusable (as the OAuth2
	// bearer does), one expiring in 2.5 s, one in 0.5 s.
	reuse := alice()
	reuse.Reusable, reuse.CredentialID = true, "tok-reuse"
	soon, sooner := reuse, reuse
	soon.CredentialID, soon.ExpiresAt = "tok-soon", t0.Add(2500*time.Millisecond)
	sooner.CredentialID, sooner.ExpiresAt = "tok-sooner", t0.Add(500*time.Millisecond)
	f.a.callers["reuse"], f.a.callers["soon"], f.a.callers["sooner"] = reuse, soon, sooner
	return f, gateway.NewForwardAuth(f.gw)
}

// TestForwardAuthCacheHeader: X-Accel-Expires is on an allow only when the
// scheme said the acceptance is reusable, the route has no subscription
// resource, and the front end is nginx; never past the credential's
// expiry, never on a refusal, never with the TTL 0.
func TestForwardAuthCacheHeader(t *testing.T) {
	plain := route("plain", "/plain", "oauth2-bearer", "tpv-signature")
	metered := route("metered", "/metered")
	metered.Resource = "metered-api"
	f, fa := cachingForwardAuth(t, 5*time.Second, plain, metered)
	_, off := cachingForwardAuth(t, 0, plain, metered)
	ctx := context.Background()
	admin := subscription.Actor{OrgID: core.SystemOrgID, PrincipalID: "admin"}
	if _, err := f.subs.CreateResource(ctx, admin, subscription.Resource{Name: "metered-api", PathPrefixes: []string{"/unused-by-gateway"}, Schemes: []string{"bearer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.subs.CreatePlan(ctx, admin, subscription.Plan{Name: "plenty", Rate: 1000, RatePeriod: subscription.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.subs.Subscribe(ctx, admin, subscription.Subscription{OrgID: "org-a", Resource: "metered-api", Plan: "plenty"}); err != nil {
		t.Fatal(err)
	}
	nginx := func(method, uri string, hdr ...string) []string {
		return append([]string{"X-Original-URI", uri, "X-Original-Method", method}, hdr...)
	}
	tests := []struct {
		name    string
		fa      *gateway.ForwardAuth
		target  string
		hdr     []string
		status  int
		expires string // "": no X-Accel-Expires
	}{
		{"reusable bearer, plain route", fa, "/gateway/check", nginx("GET", "/plain/x?a=1", "X-Test-Bearer", "reuse"), 200, "5"},
		{"reusable bearer, POST", fa, "/gateway/check", nginx("POST", "/plain/x", "X-Test-Bearer", "reuse"), 200, "5"},
		{"reusable bearer, subscription route", fa, "/gateway/check", nginx("GET", "/metered/x", "X-Test-Bearer", "reuse"), 200, ""},
		{"not reusable (PoP, TPV, Apstrata: replay checked)", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "alice"), 200, ""},
		{"not reusable, another scheme", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Sig", "alice"), 200, ""},
		{"refusal: unknown token", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "mallory"), 401, ""},
		{"refusal: no credentials", fa, "/gateway/check", nginx("GET", "/plain/x"), 401, ""},
		{"refusal: no route", fa, "/gateway/check", nginx("GET", "/nowhere", "X-Test-Bearer", "reuse"), 404, ""},
		{"refusal: spoofed identity header", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "reuse", "X-Authgate-Subject", "admin"), 400, ""},
		{"token expiring sooner: clamped", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "soon"), 200, "2"},
		{"token expiring within a second: not set", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "sooner"), 200, ""},
		{"the client's own X-Accel-Expires is not the answer's", fa, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "alice", "X-Accel-Expires", "3600"), 200, ""},
		{"ttl 0", off, "/gateway/check", nginx("GET", "/plain/x", "X-Test-Bearer", "reuse"), 200, ""},
		{"caddy, traefik: no such cache", fa, "/gateway/check", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/plain/x", "X-Forwarded-Host", "api.example", "X-Test-Bearer", "reuse"}, 200, ""},
		{"envoy: no such cache", fa, "/gateway/check/plain/x", []string{"X-Test-Bearer", "reuse"}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := check(tc.fa, frontEnd, "GET", tc.target, "", tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			h := w.Header()
			if got := h.Values(gateway.HeaderAccelExpires); tc.expires == "" && len(got) != 0 || tc.expires != "" && (len(got) != 1 || got[0] != tc.expires) {
				t.Fatalf("X-Accel-Expires %q, want %q", got, tc.expires)
			}
			// Every other cache (and nginx without proxy_cache) keeps obeying no-store.
			if h.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", h.Get("Cache-Control"))
			}
		})
	}
}

// TestForwardAuthCacheOutlivedByIdentity: the identity token in an answer
// nginx may keep is valid for at least as long as nginx keeps it, even
// when the token is one signed earlier and handed out again (at the
// shortest identity_ttl the cache TTL may go with, at the worst moments).
func TestForwardAuthCacheOutlivedByIdentity(t *testing.T) {
	r := route("plain", "/plain")
	f := newFixtureConfig(t, func(c *gateway.Config) {
		c.ForwardAuthCacheTTL, c.IdentityTTL = 5*time.Second, 10*time.Second
	}, func(d *gateway.Deps) {
		d.Addr = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix(frontEnd + "/32")}}
	}, r)
	reuse := alice()
	reuse.Reusable, reuse.ExpiresAt = true, t0.Add(time.Hour)
	f.a.callers["reuse"] = reuse
	fa := gateway.NewForwardAuth(f.gw)
	var last string
	reused := false
	for _, step := range []time.Duration{0, 2 * time.Second, 2900 * time.Millisecond, 99 * time.Millisecond, time.Millisecond, 3 * time.Second, 1999 * time.Millisecond} {
		f.clock.Advance(step)
		now := f.clock.Now()
		w := check(fa, frontEnd, "GET", "/gateway/check", "", "X-Original-URI", "/plain/x", "X-Original-Method", "GET", "X-Test-Bearer", "reuse")
		n, err := strconv.Atoi(w.Header().Get(gateway.HeaderAccelExpires))
		if w.Code != 200 || err != nil || n != 5 {
			t.Fatalf("at %v: %d, X-Accel-Expires %q", now.Sub(t0), w.Code, w.Header().Get(gateway.HeaderAccelExpires))
		}
		tok := w.Header().Get(gateway.HeaderIdentity)
		reused = reused || tok == last
		last = tok
		c := verifyIdentity(t, f, tok, "plain")
		if exp := c.Expiry.Time(); exp.Before(now.Add(time.Duration(n) * time.Second)) {
			t.Fatalf("at %v: the identity token expires at %v, before nginx drops the answer (%ds)", now.Sub(t0), exp.Sub(t0), n)
		}
	}
	if !reused {
		t.Fatal("no identity token was handed out again: the worst case was not reached")
	}
}
