package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// gatewayNode is one node serving the families, the subscriptions admin
// API and the gateway (stored routes polled every routePoll), as serve
// wires them.
type gatewayNode struct {
	url string
	svc core.Services
}

const routePoll = 200 * time.Millisecond

func startGatewayNode(t *testing.T, dsn string, master []byte) gatewayNode {
	t.Helper()
	svc, _ := agtest.NewServices(t, agtest.Options{PostgresDSN: dsn, MasterKey: master})
	addr := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	origin, err := httpapi.NewOrigin("", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := harnessConfig()
	cfg.Subscriptions.CacheMaxAge = 0 // every check reads the shared database
	subs := subscription.New(cfg.Subscriptions, svc.Store, svc.Clock, svc.Audit)
	built, err := cli.Families().Build(context.Background(), family.Deps{Config: &cfg, Svc: svc, Log: svc.Log, Addr: addr, Origin: origin,
		Access: core.AccessGate{Authz: svc.Authz, Policy: subs}, Scopes: subs, CA: ca.New(cfg.CA, ca.DepsFrom(svc))})
	if err != nil {
		t.Fatal(err)
	}
	gcfg := gateway.DefaultConfig()
	gcfg.Enabled, gcfg.RoutePoll = true, routePoll
	gw, err := gateway.New(gcfg, gateway.Deps{Schemes: built.Set, Authz: svc.Authz, Policy: subs, Docs: svc.Store, Seal: svc.Keys,
		Clock: svc.Clock, Audit: svc.Audit, Log: svc.Log, Issuer: origin.Base, Addr: addr, Routes: svc.Store})
	if err != nil {
		t.Fatal(err)
	}
	mods := append(built.HTTP, gw, agtest.AdminAPI(t, svc, addr, gw.Admin().AdminRoutes(), subs.AdminRoutes()))
	h := httpapi.NewHandler(httpapi.Options{Log: svc.Log, Ready: svc.Store, Limits: httpapi.Limits{ClientAddr: addr}, Fallback: gw}, mods...)
	if err := gw.Mount(h.Serves); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = gw.Run(ctx) }()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return gatewayNode{url: srv.URL, svc: svc}
}

// TestGatewayRoutesAcrossNodes: a route created through one node's admin
// API is served by the other within route_poll; subscriptions and plans on
// it are enforced cluster-wide (the plan's count is shared); the identity
// JWT one node signs verifies with the other's JWKS; a delete on one node
// stops the route on the other.
func TestGatewayRoutesAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	master := newMasterKey(t)
	a := startGatewayNode(t, dsn, master)
	b := startGatewayNode(t, dsn, master)
	boot, err := a.svc.EnsureBootstrapAdmin(context.Background())
	if err != nil || !boot.Created {
		t.Fatalf("bootstrap: %+v %v", boot, err)
	}
	var mu sync.Mutex
	var identities []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		identities = append(identities, r.Header.Get(gateway.HeaderIdentity))
		mu.Unlock()
		_, _ = io.WriteString(w, "orders")
	}))
	defer up.Close()

	c := newClient(a.url, b.url)
	admin := c.passwordGrant(t, 0, boot.Key, boot.Secret)
	adminJSON := http.Header{"Authorization": {"Bearer " + admin}, "Content-Type": {"application/json"}}
	org := func(name string) string {
		r := c.do(0, "POST", "/accesskeys", adminJSON, `{"Name":"`+name+`"}`)
		if r.status != 201 {
			t.Fatalf("create organisation %s: %d %s", name, r.status, r.body)
		}
		m := r.json(t)
		return c.passwordGrant(t, 1, m["Key"].(string), m["Secret"].(string))
	}
	customer, other := org("customer"), org("other")
	customerOrg := introspectOrg(t, a.svc, customer)
	for _, req := range []struct{ path, body string }{
		{"/admin/subscriptions/resources", `{"name":"orders-api","path_prefixes":["/orders-unused"],"schemes":["bearer"]}`},
		{"/admin/subscriptions/plans", `{"name":"three","rate":3,"rate_period":"24h"}`},
		{"/admin/subscriptions", `{"org_id":"` + customerOrg + `","resource":"orders-api","plan":"three"}`},
	} {
		if r := c.do(0, "POST", req.path, adminJSON, req.body); r.status != 201 {
			t.Fatalf("POST %s: %d %s", req.path, r.status, r.body)
		}
	}

	// Created on node A; node B serves it within route_poll. The admin's own
	// organisation is not subscribed: 403 (not 404) shows the route is served.
	r := c.do(0, "POST", gateway.RouteAdminPath, adminJSON,
		`{"name":"orders","path_prefix":"/orders","schemes":["oauth2-bearer"],"resource":"orders-api","upstreams":["`+up.URL+`"]}`)
	if r.status != 201 {
		t.Fatalf("create route: %d %s", r.status, r.body)
	}
	if st := c.do(0, "GET", "/orders/1", bearerHeader(admin), "").status; st != 403 {
		t.Fatalf("node A, right after the create: %d", st)
	}
	took := waitFor(t, 50*routePoll, "node B serves the new route", func() bool {
		return c.do(1, "GET", "/orders/1", bearerHeader(admin), "").status == 403
	})
	t.Logf("node B served the route %v after it was created on node A (route_poll %v)", took.Round(time.Millisecond), routePoll)

	// The plan (3 per 24h) counts across both nodes.
	for i, want := range []int{200, 200, 200, 429} {
		r := c.do(i%2, "GET", "/orders/1", bearerHeader(customer), "")
		if r.status != want {
			t.Fatalf("request %d on node %d: %d %s, want %d", i+1, i%2, r.status, r.body, want)
		}
		if want == 429 && r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	// Another organisation is not subscribed, on either node.
	for n := range 2 {
		if r := c.do(n, "GET", "/orders/1", bearerHeader(other), ""); r.status != 403 {
			t.Fatalf("another organisation on node %d: %d %s", n, r.status, r.body)
		}
	}
	// Identity tokens signed by either node verify with the other's JWKS.
	mu.Lock()
	signed := append([]string(nil), identities...)
	mu.Unlock()
	if len(signed) != 3 {
		t.Fatalf("upstream called %d times, want 3", len(signed))
	}
	for _, tok := range signed {
		for n, base := range []string{a.url, b.url} {
			verifyWithJWKS(t, base, tok, "orders", n)
		}
	}

	// Deleted through node B; node A stops serving it within route_poll.
	if r := c.do(1, "DELETE", gateway.RouteAdminPath+"/orders", bearerHeader(admin), ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	took = waitFor(t, 50*routePoll, "node A drops the deleted route", func() bool {
		return c.do(0, "GET", "/orders/1", bearerHeader(admin), "").status == 404
	})
	t.Logf("node A dropped the route %v after it was deleted on node B", took.Round(time.Millisecond))
}

// introspectOrg finds the organisation of an access token.
func introspectOrg(t *testing.T, svc core.Services, tok string) string {
	t.Helper()
	at, err := svc.Tokens.Lookup(context.Background(), core.TokenAccess, tok)
	if err != nil {
		t.Fatal(err)
	}
	return at.OrgID
}

func verifyWithJWKS(t *testing.T, base, tok, aud string, node int) {
	t.Helper()
	resp, err := http.Get(base + gateway.RouteJWKS)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	var claims gateway.IdentityClaims
	if len(keys) != 1 || parsed.Claims(keys[0].Key, &claims) != nil {
		t.Fatalf("node %d's JWKS does not verify the identity token (kid %s)", node, parsed.Headers[0].KeyID)
	}
	if err := claims.Validate(jwt.Expected{AnyAudience: jwt.Audience{aud}, Time: time.Now()}); err != nil {
		t.Fatalf("claims: %v", err)
	}
}
