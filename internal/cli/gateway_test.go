package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/gateway"
)

// TestServeGateway: `authgate serve` with a gateway route proxies an
// OAuth2 bearer request (the real oauth2-bearer scheme) to the upstream,
// which receives no Authorization header and verifies X-Authgate-Identity
// with the JWKS at /gateway/jwks.json; a request without a token gets the
// scheme's own 401; the built-in routes stay authgate's.
func TestServeGateway(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	yaml := "gateway:\n  enabled: true\n  routes:\n    - name: orders\n      path_prefix: /orders\n      schemes: [oauth2-bearer]\n      upstreams: [\"" + up.URL + "/v1\"]\n      strip_prefix: true\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--data-dir", dir, "--config", cfg)
	key, secret := bootstrapCredentials(t, s)
	tok, err := passwordToken(s.url, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.url+"/orders/42", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Authgate-Subject", "spoofed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "upstream /v1/42" {
		t.Fatalf("through the gateway: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	h := got[len(got)-1]
	mu.Unlock()
	if h.Get("Authorization") != "" || h.Get(gateway.HeaderSubject) == "" || h.Get(gateway.HeaderSubject) == "spoofed" || h.Get(gateway.HeaderOrganisation) != "system" || h.Get(gateway.HeaderScheme) != "oauth2-bearer" {
		t.Fatalf("upstream headers %v", h)
	}
	// The upstream checks the identity token with the published JWKS.
	jr, err := http.Get(s.url + gateway.RouteJWKS)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(jr.Body).Decode(&set)
	jr.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(h.Get(gateway.HeaderIdentity), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	var claims gateway.IdentityClaims
	if len(keys) != 1 || parsed.Claims(keys[0].Key, &claims) != nil || claims.Subject != h.Get(gateway.HeaderSubject) || claims.Audience[0] != "orders" || claims.Kind != "admin" {
		t.Fatalf("identity token: %d keys, claims %+v", len(keys), claims)
	}
	// No token: the oauth2-bearer scheme's own refusal, nothing proxied.
	resp, err = http.Get(s.url + "/orders/42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %v", resp.StatusCode, resp.Header)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("upstream called %d times", n)
	}

	// The route's series are in the server's one registry.
	mr, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	for _, want := range []string{`authgate_gateway_requests_total{route="orders"} 2`, `authgate_gateway_upstream_responses_total{code="200",route="orders"} 1`,
		`authgate_gateway_denials_total{reason="unauthenticated",route="orders",scheme="oauth2-bearer"} 1`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Stored routes: the admin API (administrators only) and `authgate route`.
	spec := `{"name":"shop","path_prefix":"/shop","schemes":["oauth2-bearer"],"upstreams":["` + up.URL + `"]}`
	if st, _ := adminCall(t, "POST", s.url+gateway.RouteAdminPath, "", spec); st != 401 {
		t.Fatalf("admin API without a token: %d", st)
	}
	owner := ownerToken(t, s.url, tok)
	if st, _ := adminCall(t, "POST", s.url+gateway.RouteAdminPath, owner, spec); st != 403 {
		t.Fatalf("admin API with an owner's token: %d", st)
	}
	if st, body := adminCall(t, "POST", s.url+gateway.RouteAdminPath, tok, `{"name":"typo","path_prefx":"/t"}`); st != 400 || !strings.Contains(body, "unknown field") {
		t.Fatalf("unknown field: %d %s", st, body)
	}
	if st, body := adminCall(t, "POST", s.url+gateway.RouteAdminPath, tok, spec); st != 201 {
		t.Fatalf("create through the admin API: %d %s", st, body)
	}
	if st := getStatus(t, s.url+"/shop/1", tok); st != 200 {
		t.Fatalf("route created through the admin API: %d", st)
	}
	out := string(runCLI(t, "route", "list", "--data-dir", dir, "--config", cfg))
	if !strings.Contains(out, `"name": "orders"`) || !strings.Contains(out, `"name": "shop"`) || !strings.Contains(out, `"source": "config"`) {
		t.Fatalf("route list:\n%s", out)
	}
	runCLI(t, "route", "create", "made-by-cli", "--path-prefix", "/cli", "--scheme", "oauth2-bearer", "--upstream", up.URL, "--strip-prefix",
		"--data-dir", dir, "--config", cfg)
	waitUntil(t, "the server serves the route the CLI created", func() bool { return getStatus(t, s.url+"/cli/x", tok) == 200 })
	runCLI(t, "route", "delete", "shop", "--data-dir", dir, "--config", cfg)
	waitUntil(t, "the server drops the route the CLI deleted", func() bool { return getStatus(t, s.url+"/shop/1", tok) == 404 })
	if out := string(runCLI(t, "route", "get", "made-by-cli", "--data-dir", dir, "--config", cfg)); !strings.Contains(out, `"created_by": "cli"`) {
		t.Fatalf("route get:\n%s", out)
	}
}

func adminCall(t *testing.T, method, url, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getStatus(t *testing.T, url, tok string) int {
	t.Helper()
	st, _ := adminCall(t, "GET", url, tok, "")
	return st
}

// ownerToken creates an organisation (an admin's POST /accesskeys) and
// returns an access token of its owner.
func ownerToken(t *testing.T, base, admin string) string {
	t.Helper()
	st, body := adminCall(t, "POST", base+"/accesskeys", admin, `{"Name":"customer"}`)
	var k struct{ Key, Secret string }
	if st != 201 || json.Unmarshal([]byte(body), &k) != nil {
		t.Fatalf("create organisation: %d %s", st, body)
	}
	tok, err := passwordToken(base, k.Key, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitUntil polls ok (a server's change seen within gateway.route_poll).
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeGatewayRefusesBadRoutes: route errors stop the start, all named.
func TestServeGatewayRefusesBadRoutes(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	yaml := "gateway:\n  enabled: true\n  routes:\n" +
		"    - {name: token, path_prefix: /oauth/token, schemes: [oauth2-bearer], upstreams: [\"http://127.0.0.1:1\"]}\n" +
		"    - {name: tpv, path_prefix: /tpv, schemes: [tpv-signature], upstreams: [\"http://127.0.0.1:1\"]}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// A start that wrongly succeeds is stopped by the context, and fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--config", cfg)
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "inside /oauth") {
		t.Fatalf("a route inside /oauth was accepted: %v\n%s", err, out)
	}
	// Valid in itself, but its scheme's family (tpv) is off.
	yaml = "tpv:\n  enabled: false\ngateway:\n  enabled: true\n  routes:\n    - {name: tpv, path_prefix: /tpv, schemes: [tpv-signature], upstreams: [\"http://127.0.0.1:1\"]}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--config", cfg)
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "scheme tpv-signature is not enabled") {
		t.Fatalf("a route with a disabled scheme was accepted: %v\n%s", err, out)
	}
}
