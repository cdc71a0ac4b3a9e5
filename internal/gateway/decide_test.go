package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/subscription"
)

func TestMatch(t *testing.T) {
	hosted := route("hosted", "/")
	hosted.Hosts = []string{"api.example"}
	get := route("v2-get", "/api/v2")
	get.Methods = []string{"GET"}
	post := route("v2-post", "/api/v2")
	post.Methods = []string{"POST", "PUT"}
	f := newFixture(t, route("root", "/"), route("api", "/api"), get, post, hosted)
	cases := []struct {
		method, host, path string
		want               string // route name; "" none
		status             int    // refusal status when want is ""
	}{
		{"GET", "x.example", "/api", "api", 0},
		{"GET", "x.example", "/api/items", "api", 0},
		{"GET", "x.example", "/apix", "root", 0}, // not under /api
		{"GET", "x.example", "/api/v2/x", "v2-get", 0},
		{"PUT", "x.example", "/api/v2", "v2-post", 0},
		{"DELETE", "x.example", "/api/v2/x", "api", 0}, // the v2 routes do not take it, /api does
		{"GET", "x.example", "/api/v2x", "api", 0},
		{"GET", "API.example:8443", "/api/items", "hosted", 0}, // host routes first, port and case ignored
		{"GET", "api.example.", "/anything", "hosted", 0},
		{"GET", "api.example.evil", "/anything", "root", 0},
		{"GET", "", "/z", "root", 0},
	}
	for _, tc := range cases {
		r := request(tc.method, "http://h"+tc.path, "X-Test-Bearer", "alice")
		r.Host = tc.host
		d, err := f.decide(t, r)
		if tc.want == "" {
			if err == nil || d.Route != nil {
				t.Errorf("%s %s%s: matched %v", tc.method, tc.host, tc.path, d.Route)
				continue
			}
			w := httptest.NewRecorder()
			d.WriteRefusal(w, r, err)
			if w.Code != tc.status {
				t.Errorf("%s %s%s: status %d, want %d", tc.method, tc.host, tc.path, w.Code, tc.status)
			}
			continue
		}
		if err != nil || d.Route == nil || d.Route.Name != tc.want {
			t.Errorf("%s %s%s: route %v err %v, want %s", tc.method, tc.host, tc.path, d.Route, err, tc.want)
		}
	}
	// Routes cover the path but none takes the method: 405 with Allow.
	m := newFixture(t, get, post)
	r := request("DELETE", "/api/v2/x", "X-Test-Bearer", "alice")
	d, err := m.decide(t, r)
	w := httptest.NewRecorder()
	d.WriteRefusal(w, r, err)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST, PUT" {
		t.Fatalf("405: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	// No route at all for a path outside every prefix.
	g := newFixture(t, route("api", "/api"))
	d, err = g.decide(t, request("GET", "/other", "X-Test-Bearer", "alice"))
	w = httptest.NewRecorder()
	d.WriteRefusal(w, nil, err)
	if core.KindOf(err) != core.KindNotFound || w.Code != 404 || !strings.Contains(w.Body.String(), "no such resource") {
		t.Fatalf("no route: %v %d %s", err, w.Code, w.Body)
	}
}

func TestDecide(t *testing.T) {
	r1 := route("api", "/api", "tpv-signature", "oauth2-bearer")
	r1.Scope = "read"
	f := newFixture(t, r1)
	ctx := context.Background()

	// A presented scheme authenticates; the other one is not consulted.
	d, err := f.decide(t, request("GET", "/api/x", "X-Test-Bearer", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Scheme.Name() != "oauth2-bearer" || d.Caller.Subject != "alice" || d.Route.Name != "api" {
		t.Fatalf("decision %+v", d)
	}
	want := map[string]string{gateway.HeaderSubject: "alice", gateway.HeaderOrganisation: "org-a", gateway.HeaderScheme: "oauth2-bearer", gateway.HeaderScope: "read write"}
	for k, v := range want {
		if got := d.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	claims := verifyIdentity(t, f, d.Header.Get(gateway.HeaderIdentity), "api")
	if claims.Subject != "alice" || claims.Org != "org-a" || claims.Scheme != "oauth2-bearer" || claims.Scope != "read write" ||
		claims.Kind != "user" || claims.ID == "" || claims.Issuer != "https://authgate.test" {
		t.Fatalf("claims %+v", claims)
	}
	if exp := claims.Expiry.Time(); !exp.Equal(t0.Add(time.Minute)) {
		t.Fatalf("exp %v", exp)
	}
	// The same credential on the same route is handed the same token while
	// half its life is left, then a new one (new jti, new expiry).
	d2, _ := f.decide(t, request("GET", "/api/x", "X-Test-Bearer", "alice"))
	if d2.Header.Get(gateway.HeaderIdentity) != d.Header.Get(gateway.HeaderIdentity) {
		t.Fatal("the identity token was signed again within half its life")
	}
	f.clock.Advance(30 * time.Second)
	d2, _ = f.decide(t, request("GET", "/api/x", "X-Test-Bearer", "alice"))
	if c2 := verifyIdentity(t, f, d2.Header.Get(gateway.HeaderIdentity), "api"); c2.ID == claims.ID || !c2.Expiry.Time().Equal(t0.Add(90*time.Second)) {
		t.Fatalf("after half its life: jti %s (first %s), exp %v", c2.ID, claims.ID, c2.Expiry.Time())
	}
	f.clock.Set(t0)

	// Nothing presented: the route's first scheme refuses, unauthenticated.
	r := request("GET", "/api/x")
	d, err = f.decide(t, r)
	w := httptest.NewRecorder()
	d.WriteRefusal(w, r, err)
	if core.KindOf(err) != core.KindUnauthenticated || d.Scheme.Name() != "tpv-signature" || w.Code != 401 || w.Header().Get("WWW-Authenticate") != "tpv-signature" {
		t.Fatalf("none presented: %v %d %v", err, w.Code, w.Header())
	}
	// A wrong credential: the presented scheme's refusal.
	d, err = f.decide(t, request("GET", "/api/x", "X-Test-Bearer", "mallory"))
	if core.KindOf(err) != core.KindUnauthenticated || d.Scheme.Name() != "oauth2-bearer" || d.Header != nil {
		t.Fatalf("wrong credential: %v %+v", err, d)
	}
	// The required scope is missing: 403 in the scheme's shape.
	d, err = f.decide(t, request("GET", "/api/x", "X-Test-Bearer", "bob"))
	w = httptest.NewRecorder()
	d.WriteRefusal(w, nil, err)
	if core.KindOf(err) != core.KindForbidden || w.Code != 403 || !strings.Contains(w.Body.String(), "scope does not include read") {
		t.Fatalf("scope: %v %d %s", err, w.Code, w.Body)
	}
	// The privilege table refuses a caller of no kind.
	f2 := newFixture(t, route("open", "/open"))
	if _, err := f2.decide(t, request("GET", "/open", "X-Test-Bearer", "nokind")); core.KindOf(err) != core.KindForbidden {
		t.Fatalf("no kind: %v", err)
	}
	// A scheme that signs the body, without the body: refused, never passed.
	_, err = f.gw.Decide(ctx, scheme.Request{HTTP: request("POST", "/api/x", "X-Test-Sig", "alice"), BodyKnown: false})
	if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(core.ReasonOf(err), "signs the request body") {
		t.Fatalf("body unavailable: %v", err)
	}
	// Every refusal is audited with its route and reason.
	events, err := f.svc.Store.ListAudit(ctx, core.AuditFilter{Action: gateway.AuditDeny, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events {
		if e.Action == gateway.AuditDeny {
			if e.Subject != "route api" {
				t.Errorf("audit subject %q", e.Subject)
			}
			reasons = append(reasons, e.Reason)
		}
	}
	for _, want := range []string{"tpv-signature unauthenticated: credentials required", "oauth2-bearer unauthenticated: unknown token",
		"oauth2-bearer forbidden: the credential's scope does not include read", "tpv-signature invalid_input: this scheme signs the request body"} {
		found := false
		for _, r := range reasons {
			found = found || strings.HasPrefix(r, want)
		}
		if !found {
			t.Errorf("no audit record %q in %q", want, reasons)
		}
	}
}

// TestDecideSubscription: a route with a resource needs a subscription
// (403 without), and its plan's rate answers 429 with Retry-After.
func TestDecideSubscription(t *testing.T) {
	r := route("orders", "/orders")
	r.Resource = "orders-api"
	tpv := route("orders-tpv", "/orders-tpv", "tpv-signature")
	tpv.Resource = "orders-api"
	f := newFixture(t, r, tpv)
	ctx := context.Background()
	admin := subscription.Actor{OrgID: core.SystemOrgID, PrincipalID: "admin"}
	if _, err := f.subs.CreateResource(ctx, admin, subscription.Resource{Name: "orders-api", PathPrefixes: []string{"/unused-by-gateway"}, Schemes: []string{"bearer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.subs.CreatePlan(ctx, admin, subscription.Plan{Name: "one-a-minute", Rate: 1, RatePeriod: subscription.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	refuse := func(who string, kind core.Kind, status int) http.Header {
		t.Helper()
		req := request("GET", "/orders/1", "X-Test-Bearer", who)
		d, err := f.decide(t, req)
		if core.KindOf(err) != kind {
			t.Fatalf("%s: %v, want %v", who, err, kind)
		}
		w := httptest.NewRecorder()
		d.WriteRefusal(w, req, err)
		if w.Code != status {
			t.Fatalf("%s: status %d, want %d", who, w.Code, status)
		}
		return w.Header()
	}
	refuse("alice", core.KindForbidden, 403) // not subscribed
	if _, err := f.subs.Subscribe(ctx, admin, subscription.Subscription{OrgID: "org-a", Resource: "orders-api", Plan: "one-a-minute"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.decide(t, request("GET", "/orders/1", "X-Test-Bearer", "alice")); err != nil {
		t.Fatalf("subscribed: %v", err)
	}
	if h := refuse("alice", core.KindRateLimited, 429); h.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	refuse("bob", core.KindForbidden, 403) // another organisation is not subscribed
	// The resource accepts bearer only: a route scheme it does not list is refused.
	f.clock.Advance(time.Minute)
	req := request("GET", "/orders-tpv/1", "X-Test-Sig", "alice")
	if _, err := f.decide(t, req); core.KindOf(err) != core.KindForbidden || !strings.Contains(core.ReasonOf(err), "does not accept tpv") {
		t.Fatalf("scheme the resource does not list: %v", err)
	}
	// A minute later the rate allows one more.
	if _, err := f.decide(t, request("GET", "/orders/2", "X-Test-Bearer", "alice")); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

// verifyIdentity checks tok against the gateway's JWKS as an upstream
// does and returns its claims.
func verifyIdentity(t *testing.T, f *fixture, tok, aud string) gateway.IdentityClaims {
	t.Helper()
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	f.gw.Register(mux)
	mux.ServeHTTP(rec, httptest.NewRequest("GET", gateway.RouteJWKS, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("JWKS: %d %s", rec.Code, rec.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", kid)
	}
	var c gateway.IdentityClaims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{aud}, Time: f.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	return c
}
