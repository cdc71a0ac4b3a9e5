package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
)

// frontEnd is the address the checks come from in these tests.
const frontEnd = "192.0.2.10"

// forwardAuth is the endpoint over a fixture whose trusted proxy is frontEnd.
func forwardAuth(t *testing.T, routes ...gateway.Route) (*fixture, *gateway.ForwardAuth) {
	f := newFixtureWith(t, func(d *gateway.Deps) {
		d.Addr = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix(frontEnd + "/32")}}
	}, routes...)
	return f, gateway.NewForwardAuth(f.gw)
}

// check sends one check request to fa from peer and returns the answer.
func check(fa http.Handler, peer, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.RemoteAddr = peer + ":40000"
	r.Host = "authgate.internal:8080"
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	fa.ServeHTTP(w, r)
	return w
}

// refusalText is what a refused check says: nginx's form (X-Original-URI)
// gets no body, since auth_request never reads it and keeps its
// connection only after an answer without one, and the reason in
// gateway.HeaderError; every other form gets the scheme's body.
func refusalText(t *testing.T, w *httptest.ResponseRecorder, hdr []string) string {
	t.Helper()
	if !slices.Contains(hdr, "X-Original-URI") {
		if w.Header().Get(gateway.HeaderError) != "" {
			t.Fatalf("%s on a refusal to another front end than nginx: %v", gateway.HeaderError, w.Header())
		}
		return w.Body.String()
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Length") != "0" || w.Header().Get("Content-Type") != "" {
		t.Fatalf("a refusal to nginx has a body: %q %v", w.Body, w.Header())
	}
	return w.Header().Get(gateway.HeaderError)
}

// TestForwardAuth: each front end's way of asking gets the gateway's
// decision for the original request: 200 with every identity header
// (empty when the caller has no value), or the scheme's own refusal.
func TestForwardAuth(t *testing.T) {
	api := route("api", "/api", "tpv-signature", "oauth2-bearer")
	api.Hosts = []string{"api.example"}
	f, fa := forwardAuth(t, api)
	nginx := func(method, uri string, hdr ...string) []string {
		return append([]string{"Host", "api.example", "X-Original-URI", uri, "X-Original-Method", method}, hdr...)
	}
	caddy := func(method, uri string, hdr ...string) []string {
		return append([]string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri, "X-Forwarded-Host", "api.example", "X-Forwarded-Proto", "https"}, hdr...)
	}
	tests := []struct {
		name          string
		method        string
		target        string
		body          string
		hdr           []string
		status        int
		subject       string
		scope         string
		wwwAuth, text string
	}{
		{"nginx: bearer allowed", "GET", "/gateway/check", "", nginx("GET", "/api/x?a=1", "X-Test-Bearer", "alice"), 200, "alice", "read write", "", ""},
		{"nginx: empty scope still sent", "GET", "/gateway/check", "", nginx("DELETE", "/api/x", "X-Test-Bearer", "bob"), 200, "bob", "", "", ""},
		{"caddy: bearer allowed", "GET", "/gateway/check?a=1", "", caddy("POST", "/api/x?a=1", "X-Test-Bearer", "alice"), 200, "alice", "read write", "", ""},
		{"traefik: no credentials, the scheme's refusal", "GET", "/gateway/check", "", caddy("GET", "/api/x"), 401, "", "", "tpv-signature", "credentials required"},
		{"nginx: unknown token", "GET", "/gateway/check", "", nginx("GET", "/api/x", "X-Test-Bearer", "mallory"), 401, "", "", "oauth2-bearer", "unknown token"},
		{"nginx: no route for the host", "GET", "/gateway/check", "", []string{"Host", "other.example", "X-Original-URI", "/api/x", "X-Original-Method", "GET", "X-Test-Bearer", "alice"}, 404, "", "", "", "no such resource"},
		{"nginx: a body-signing scheme without the body", "GET", "/gateway/check", "", nginx("POST", "/api/x", "X-Test-Sig", "alice"), 400, "", "", "", "signs the request body"},
		{"caddy: a body-signing scheme without the body", "GET", "/gateway/check", "", caddy("PUT", "/api/x", "X-Test-Sig", "alice"), 400, "", "", "", "signs the request body"},
		{"envoy: bearer allowed", "GET", "/gateway/check/api/x?a=1", "", []string{"Host", "api.example", "X-Test-Bearer", "alice"}, 200, "alice", "read write", "", ""},
		{"envoy: the whole body forwarded", "POST", "/gateway/check/api/x", "alice signed this", []string{"Host", "api.example", "X-Test-Sig", "alice", "X-Envoy-Auth-Partial-Body", "false"}, 200, "alice", "read write", "", ""},
		{"envoy: body forwarded, signature mismatch", "POST", "/gateway/check/api/x", "bob signed this", []string{"Host", "api.example", "X-Test-Sig", "alice", "X-Envoy-Auth-Partial-Body", "false"}, 401, "", "", "tpv-signature", "body signature mismatch"},
		{"envoy: a cut body is no body", "POST", "/gateway/check/api/x", "alice signed th", []string{"Host", "api.example", "X-Test-Sig", "alice", "X-Envoy-Auth-Partial-Body", "true"}, 400, "", "", "", "signs the request body"},
		{"envoy: without with_request_body", "POST", "/gateway/check/api/x", "", []string{"Host", "api.example", "X-Test-Sig", "alice"}, 400, "", "", "", "signs the request body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := check(fa, frontEnd, tc.method, tc.target, tc.body, tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			h := w.Header()
			if tc.status != 200 {
				if got := h.Get("WWW-Authenticate"); got != tc.wwwAuth {
					t.Fatalf("WWW-Authenticate %q, want %q", got, tc.wwwAuth)
				}
				if got := refusalText(t, w, tc.hdr); !strings.Contains(got, tc.text) {
					t.Fatalf("refusal %q does not say %q", got, tc.text)
				}
				if h.Get(gateway.HeaderIdentity) != "" || h.Get(gateway.HeaderSubject) != "" {
					t.Fatalf("a refusal carries identity headers: %v", h)
				}
				return
			}
			for _, name := range []string{gateway.HeaderSubject, gateway.HeaderOrganisation, gateway.HeaderScheme, gateway.HeaderScope, gateway.HeaderIdentity} {
				if len(h.Values(name)) != 1 {
					t.Fatalf("%s sent %d times, want once", name, len(h.Values(name)))
				}
			}
			if h.Get(gateway.HeaderSubject) != tc.subject || h.Get(gateway.HeaderScope) != tc.scope || h.Get("Cache-Control") != "no-store" || w.Body.Len() != 0 {
				t.Fatalf("answer %v %q", h, w.Body)
			}
			verifyIdentity(t, f, h.Get(gateway.HeaderIdentity), "api")
		})
	}
}

// TestAttack_ForwardAuth: the check cannot be made to vouch for a request
// the front end does not hold, by an untrusted peer, spoofed identity
// headers, a description naming another route, or an oversized body.
func TestAttack_ForwardAuth(t *testing.T) {
	public := route("public", "/public")
	admin := route("private", "/private")
	admin.Scope = "private"
	f, fa := forwardAuth(t, public, admin)
	cfg := gateway.DefaultConfig()
	ctx := context.Background()
	desc := func(uri string, hdr ...string) []string {
		return append([]string{"X-Original-URI", uri, "X-Original-Method", "GET", "X-Test-Bearer", "alice"}, hdr...)
	}
	if w := check(fa, frontEnd, "GET", "/gateway/check", "", desc("/public/x")...); w.Code != 200 {
		t.Fatalf("the baseline is refused: %d %s", w.Code, w.Body)
	}
	tests := []struct {
		name   string
		peer   string
		method string
		target string
		body   string
		hdr    []string
		status int
		text   string
		audit  string
	}{
		{"untrusted peer describing a request", "198.51.100.7", "GET", "/gateway/check", "", desc("/public/x"), 403, "trusted_proxies", "forward-auth: untrusted front end"},
		{"untrusted peer in Envoy's form", "198.51.100.7", "GET", "/gateway/check/public/x", "", []string{"X-Test-Bearer", "alice"}, 403, "trusted_proxies", "forward-auth: untrusted front end"},
		{"untrusted peer behind a spoofed X-Forwarded-For", "198.51.100.7", "GET", "/gateway/check", "", desc("/public/x", "X-Forwarded-For", frontEnd), 403, "trusted_proxies", "forward-auth: untrusted front end"},
		{"spoofed X-Authgate-Subject", frontEnd, "GET", "/gateway/check", "", desc("/public/x", "X-Authgate-Subject", "admin"), 400, "only authgate sets", "forward-auth: description refused"},
		{"spoofed X-Authgate-Error", frontEnd, "GET", "/gateway/check", "", desc("/public/x", "X-Authgate-Error", "none"), 400, "only authgate sets", "forward-auth: description refused"},
		{"spoofed X-Authgate-Identity", frontEnd, "GET", "/gateway/check", "", desc("/public/x", "X-Authgate-Identity", "eyJ..."), 400, "only authgate sets", "forward-auth: description refused"},
		{"described as the other route", frontEnd, "GET", "/gateway/check", "", desc("/private/x"), 403, "scope does not include private", "route private"},
		{"dot segments into the other route", frontEnd, "GET", "/gateway/check", "", desc("/public/../private/x"), 400, "not canonical", "forward-auth: description refused"},
		{"encoded slash", frontEnd, "GET", "/gateway/check", "", desc("/public%2F..%2Fprivate"), 400, "encoded", "forward-auth: description refused"},
		{"client's header beside the front end's", frontEnd, "GET", "/gateway/check", "", desc("/public/x", "X-Original-URI", "/private/x"), 400, "more than once", "forward-auth: description refused"},
		{"envoy body over max_body_bytes", frontEnd, "POST", "/gateway/check/public/x", strings.Repeat("a", int(cfg.MaxBodyBytes)+1), []string{"X-Test-Bearer", "alice", "X-Envoy-Auth-Partial-Body", "false"}, 413, "larger than", "forward-auth: forwarded body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := check(fa, tc.peer, tc.method, tc.target, tc.body, tc.hdr...)
			if got := refusalText(t, w, tc.hdr); w.Code != tc.status || !strings.Contains(got, tc.text) {
				t.Fatalf("%d %q, want %d saying %q", w.Code, got, tc.status, tc.text)
			}
			if w.Header().Get(gateway.HeaderIdentity) != "" {
				t.Fatal("a refusal carries an identity")
			}
			events, err := f.svc.Store.ListAudit(ctx, core.AuditFilter{Action: gateway.AuditDeny, Limit: 1})
			if err != nil || len(events) == 0 || events[0].Subject != tc.audit {
				t.Fatalf("newest audit record %+v (%v), want subject %q", events, err, tc.audit)
			}
		})
	}
}
