package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/subscription"
)

// TestAttack_SpoofedIdentityHeaders: X-Authgate-* headers a client sends,
// in any case, never reach the upstream; refused requests reach nothing.
func TestAttack_SpoofedIdentityHeaders(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("api", "/api")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	spoof := []string{"X-Authgate-Subject", "root", "x-authgate-organisation", "system", "X-AUTHGATE-SCHEME", "admin",
		"X-Authgate-Identity", "eyJhbGciOiJub25lIn0.e30.", "X-Authgate-Scope", "admin", "X-Authgate-Extra", "1"}
	// Unauthenticated with spoofed headers: refused, the upstream never called.
	if status, _, _ := call(t, "GET", base+"/api", nil, spoof...); status != 401 {
		t.Fatalf("spoofed, no credential: %d", status)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
	// Authenticated: the gateway's values only, the extra one gone.
	status, _, _ := call(t, "GET", base+"/api", nil, append(spoof, "X-Test-Bearer", "bob")...)
	got := up.last(t)
	if status != 200 || got.Header.Get(gateway.HeaderSubject) != "bob" || got.Header.Get(gateway.HeaderOrganisation) != "org-b" ||
		got.Header.Get(gateway.HeaderScheme) != "oauth2-bearer" || got.Header.Values(gateway.HeaderScope) != nil ||
		got.Header.Get("X-Authgate-Extra") != "" || len(got.Header.Values(gateway.HeaderIdentity)) != 1 {
		t.Fatalf("upstream saw %v", got.Header)
	}
	if c := verifyIdentity(t, f, got.Header.Get(gateway.HeaderIdentity), "api"); c.Subject != "bob" || c.Org != "org-b" {
		t.Fatalf("identity token of %s/%s", c.Org, c.Subject)
	}
	// Another caller right after gets a token of its own (tokens are reused per credential only).
	call(t, "GET", base+"/api", nil, "X-Test-Bearer", "alice")
	if c := verifyIdentity(t, f, up.last(t).Header.Get(gateway.HeaderIdentity), "api"); c.Subject != "alice" || c.Org != "org-a" {
		t.Fatalf("alice's request carried the identity of %s/%s", c.Org, c.Subject)
	}
	// A header named hop-by-hop by the client cannot remove the gateway's.
	call(t, "GET", base+"/api", nil, "X-Test-Bearer", "bob", "Connection", "X-Authgate-Subject, X-Authgate-Identity")
	if got := up.last(t); got.Header.Get(gateway.HeaderSubject) != "bob" || got.Header.Get(gateway.HeaderIdentity) == "" {
		t.Fatalf("Connection-listed identity headers: %v", got.Header)
	}
	// Through Decide (forward-auth) the client's headers are not the decision's either.
	req := request("GET", "/api", "X-Test-Bearer", "bob", "X-Authgate-Subject", "root")
	d, err := f.decide(t, req)
	if err != nil || d.Header.Get(gateway.HeaderSubject) != "bob" {
		t.Fatalf("decision %v %v", d.Header, err)
	}
}

// TestAttack_CredentialsStripped: the client's credentials are removed
// before the upstream, unless the route passes them.
func TestAttack_CredentialsStripped(t *testing.T) {
	up := newUpstream(t, "one")
	strip := route("strip", "/strip", "oauth2-bearer", "tpv-signature")
	strip.Upstreams = []string{up.URL}
	pass := route("pass", "/pass")
	pass.Upstreams = []string{up.URL}
	pass.PassCredentials = true
	f := newFixture(t, strip, pass)
	base := f.serve(t, httpapi.Limits{})
	call(t, "GET", base+"/strip", nil, "X-Test-Bearer", "alice", "X-Test-Sig", "alice")
	if h := up.last(t).Header; h.Get("X-Test-Bearer") != "" {
		t.Fatalf("stripped route forwarded the credential: %v", h)
	}
	call(t, "GET", base+"/pass", nil, "X-Test-Bearer", "alice")
	if h := up.last(t).Header; h.Get("X-Test-Bearer") != "alice" {
		t.Fatalf("pass_credentials route dropped the credential: %v", h)
	}
	// The admin console's session cookie reaches no upstream, even on a
	// route that passes credentials; the application's own cookies do.
	for _, path := range []string{"/strip", "/pass"} {
		call(t, "GET", base+path, nil, "X-Test-Bearer", "alice", "Cookie", "app=1; "+httpapi.ConsoleCookie+"=admin-token; theme=dark")
		if h := up.last(t).Header; h.Get("Cookie") != "app=1; theme=dark" {
			t.Fatalf("%s: upstream Cookie %q", path, h.Values("Cookie"))
		}
	}
}

// TestAttack_AnotherOrganisation: a route subscribed by one organisation
// refuses another organisation's valid credential; its upstream is not called.
func TestAttack_AnotherOrganisation(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("orders", "/orders")
	r.Upstreams = []string{up.URL}
	r.Resource = "orders-api"
	f := newFixture(t, r)
	ctx := context.Background()
	admin := subscription.Actor{OrgID: core.SystemOrgID, PrincipalID: "admin"}
	if _, err := f.subs.CreateResource(ctx, admin, subscription.Resource{Name: "orders-api", PathPrefixes: []string{"/orders"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.subs.Subscribe(ctx, admin, subscription.Subscription{OrgID: "org-a", Resource: "orders-api"}); err != nil {
		t.Fatal(err)
	}
	base := f.serve(t, httpapi.Limits{})
	if status, _, _ := call(t, "GET", base+"/orders/1", nil, "X-Test-Bearer", "alice"); status != 200 {
		t.Fatalf("subscribed organisation: %d", status)
	}
	status, _, body := call(t, "GET", base+"/orders/1", nil, "X-Test-Bearer", "bob")
	if status != 403 || !strings.Contains(body, "not subscribed") {
		t.Fatalf("another organisation: %d %s", status, body)
	}
	if n := len(up.requests()); n != 1 {
		t.Fatalf("upstream called %d times, want 1", n)
	}
}

// TestAttack_OversizedBody: a body over max_body_bytes is refused with 413
// before the upstream is called, declared or chunked, buffered or streamed.
func TestAttack_OversizedBody(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("api", "/api", "oauth2-bearer", "tpv-signature")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r) // max_body_bytes 1 MiB
	base := f.serve(t, httpapi.Limits{})
	big := strings.Repeat("a", 1<<20+1)
	for _, tc := range []struct {
		name string
		hdr  []string
		body io.Reader
	}{
		{"declared, signing scheme", []string{"X-Test-Sig", "alice"}, strings.NewReader(big)},
		{"declared, streaming scheme", []string{"X-Test-Bearer", "alice"}, strings.NewReader(big)},
		{"chunked, signing scheme", []string{"X-Test-Sig", "alice"}, io.MultiReader(strings.NewReader("alice "), strings.NewReader(big))},
	} {
		status, _, body := call(t, "POST", base+"/api", tc.body, tc.hdr...)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 1048576") {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
	// Chunked through a streaming scheme: the stream is cut at the limit, 413.
	status, _, _ := call(t, "POST", base+"/api", io.MultiReader(strings.NewReader(big)), "X-Test-Bearer", "alice")
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked streamed: %d", status)
	}
	for _, s := range up.requests() {
		if len(s.Body) > 1<<20 {
			t.Fatalf("upstream received %d bytes", len(s.Body))
		}
	}
}

// TestAttack_SlowBody: a signed body that does not arrive within
// body_read_timeout is refused (408) and never forwarded.
func TestAttack_SlowBody(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("api", "/api", "tpv-signature")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{BodyReadTimeout: time.Second})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST /api HTTP/1.1\r\nHost: x\r\nX-Test-Sig: alice\r\nContent-Length: 100\r\n\r\nalice")
	b, _ := io.ReadAll(c) // the server answers and closes once the deadline passed
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") {
		t.Fatalf("slow body answered %q", b)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
}

// TestAttack_ShadowBuiltin: routes cannot take authgate's own paths, in
// the configuration (namespaces) or at mount (whatever the enabled
// families serve).
func TestAttack_ShadowBuiltin(t *testing.T) {
	for _, p := range []string{"/oauth/token", "/gateway/check", "/gateway", "/admin/subscriptions", "/accesskeys", "/.well-known/jwks.json", "/metrics"} {
		cfg := gateway.DefaultConfig()
		cfg.Routes = []gateway.Route{route("x", p)}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "which authgate serves itself") {
			t.Errorf("route at %s: %v", p, err)
		}
	}
	f := newFixture(t, route("items", "/demo/items"))
	h := httpapi.NewHandler(httpapi.Options{Fallback: f.gw}, builtin{})
	if err := f.gw.Mount(h.Serves); err == nil || !strings.Contains(err.Error(), "served by authgate itself") {
		t.Fatalf("mount: %v", err)
	}
	g := newFixture(t, route("demo", "/demo"), route("all", "/"))
	if err := g.gw.Mount(h.Serves); err != nil {
		t.Fatalf("a prefix above a built-in path is allowed (built-ins keep precedence): %v", err)
	}
}

// TestAttack_HostHeader: host routes match the Host only, never
// X-Forwarded-Host or a look-alike.
func TestAttack_HostHeader(t *testing.T) {
	inner, outer := newUpstream(t, "inner"), newUpstream(t, "outer")
	hosted := route("inner", "/")
	hosted.Hosts = []string{"internal.example"}
	hosted.Upstreams = []string{inner.URL}
	any := route("outer", "/")
	any.Upstreams = []string{outer.URL}
	f := newFixture(t, hosted, any)
	base := f.serve(t, httpapi.Limits{})
	for _, tc := range []struct {
		host, xfh, want string
	}{
		{"internal.example", "", "inner"},
		{"INTERNAL.example:80", "", "inner"},
		{"internal.example.", "", "inner"},
		{"public.example", "internal.example", "outer"},
		{"internal.example.attacker.example", "", "outer"},
		{"attacker.example#internal.example", "", "outer"},
	} {
		hdr := []string{"Host", tc.host, "X-Test-Bearer", "alice"}
		if tc.xfh != "" {
			hdr = append(hdr, "X-Forwarded-Host", tc.xfh)
		}
		status, rh, _ := call(t, "GET", base+"/x", nil, hdr...)
		if status == 400 && strings.Contains(tc.host, "#") {
			continue // refused by the HTTP server itself
		}
		if status != 200 || rh.Get("X-Upstream") != tc.want {
			t.Errorf("Host %q X-Forwarded-Host %q: %d from %q, want %s", tc.host, tc.xfh, status, rh.Get("X-Upstream"), tc.want)
		}
	}
	// An absolute-form request line names the host the route sees.
	status, body := rawRequest(t, base, "GET http://internal.example/x HTTP/1.1\r\nHost: public.example\r\nX-Test-Bearer: alice\r\nConnection: close\r\n\r\n")
	if status != 200 || body != "hello from inner" {
		t.Fatalf("absolute form: %d %q", status, body)
	}
}

// TestAttack_PathConfusion: /api never covers /apix; dot segments, double
// slashes and encoded dots are cleaned (redirected) before any route
// sees them; encoded separators are refused. The upstream never receives
// a path outside the route's prefix.
func TestAttack_PathConfusion(t *testing.T) {
	api, other := newUpstream(t, "api"), newUpstream(t, "other")
	r := route("api", "/api")
	r.Upstreams = []string{api.URL}
	o := route("other", "/")
	o.Upstreams = []string{other.URL}
	f := newFixture(t, r, o)
	base := f.serve(t, httpapi.Limits{})
	for _, tc := range []struct {
		raw    string
		status int
		to     string // upstream that answers, "" none
	}{
		{"/apix", 200, "other"},
		{"/api", 200, "api"},
		{"/api/", 200, "api"},
		{"/api/../oauth/token", 307, ""}, // the listener's redirect to the clean path
		{"//api/x", 307, ""},
		{"/api//x", 307, ""},
		{"/api/./x", 307, ""},
		{"/api/%2e%2e/oauth/token", 400, ""},
		{"/api/%2E%2E/%2e%2e/x", 400, ""},
		{"/api/%2e/x", 400, ""},
		{"/api/x%2F%2Fy", 400, ""},
		{"/api/x%00y", 400, ""},
		{"/api%2Fx", 400, ""},
		{"/api%2fx", 400, ""},
		{"/x/..%2Fapi", 400, ""},
		{"/api%5Cx", 400, ""},
		{"/ap%69/x", 200, "api"}, // the same path as /api/x, forwarded as sent
	} {
		status, body := rawRequest(t, base, "GET "+tc.raw+" HTTP/1.1\r\nHost: x\r\nX-Test-Bearer: alice\r\nConnection: close\r\n\r\n")
		if status != tc.status || (tc.to != "" && body != "hello from "+tc.to) {
			t.Errorf("%s: %d %q", tc.raw, status, body)
		}
	}
	for _, s := range api.requests() {
		if !strings.HasPrefix(s.Path, "/api") || strings.Contains(s.Path, "..") || strings.Contains(s.Path, "//") {
			t.Errorf("api upstream received %q", s.Path)
		}
	}
	for _, s := range other.requests() {
		if s.Path != "/apix" {
			t.Errorf("other upstream received %q", s.Path)
		}
	}
}
