package e2e

import (
	"bufio"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testutil/fronttest"
)

// docCachePath is the check cache's directory in the documented snippet.
const docCachePath = "/run/nginx-authgate-checks"

// cachingConfig is forwardAuthConfig with the check cache on (TTL 1s).
func cachingConfig(up *fronttest.Upstream) string {
	return strings.Replace(forwardAuthConfig(up, "127.0.0.1/32"), "gateway:\n  enabled: true\n", "gateway:\n  enabled: true\n  forward_auth_cache_ttl: 1s\n", 1)
}

// cachedNginx runs docs/gateway.md's "nginx with a check cache" snippet,
// its cache in the test's temp dir; edit, when set, changes the snippet
// first.
func cachedNginx(t *testing.T, n *node, up *fronttest.Upstream, edit func(string) string) *fronttest.Front {
	t.Helper()
	text := fronttest.Snippet(t, gatewayDoc, "nginx-cache")
	if edit != nil {
		text = edit(text)
	}
	return fronttest.Nginx(t, fronttest.Site{Text: text, Listen: docNginxListen,
		Replace: []string{docAuthgate, n.Addr, docUpstream, up.Addr, docCachePath, filepath.Join(t.TempDir(), "checks")}})
}

// checks is how many checks authgate decided for route so far
// (authgate_gateway_requests_total).
func (n *node) checks(t *testing.T, route string) int {
	t.Helper()
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := `authgate_gateway_requests_total{route="` + route + `"} `
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %q", sc.Text())
			}
			return int(f)
		}
	}
	return 0
}

// TestNginxCheckCache: nginx configured as docs/gateway.md's cached
// snippet shows, authgate with forward_auth_cache_ttl 1s: an OAuth2 bearer
// is allowed, repeated requests reach authgate about once per TTL (each
// still carrying a verified identity upstream), another URI or method is
// asked on its own, a refusal is never kept, a revoked token is refused
// once the TTL has passed, and a TAAP PoP request is allowed once and
// refused on replay.
func TestNginxCheckCache(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, cachingConfig(up))
	up.Handler = verifiedUpstream(t, n).Handler
	f := cachedNginx(t, n, up, nil)
	key, secret := n.accessKey(t, "cache")
	token := n.token(t, key, secret)
	get := func(method, path string, hdr ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, f.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		return send(t, req)
	}
	bearer := []string{"Authorization", "Bearer " + token}

	c0 := n.checks(t, "bearer")
	if status, _, body := get("GET", "/bearer/items?page=2", bearer...); status != 200 || !strings.Contains(body, `"scheme":"oauth2-bearer"`) {
		t.Fatalf("bearer: %d %s", status, body)
	}
	subject := up.Last(t).Header.Get("X-Authgate-Subject")
	const repeats = 30
	u0 := up.Count()
	start := time.Now()
	for i := range repeats {
		if status, _, body := get("GET", "/bearer/items?page=2", bearer...); status != 200 {
			t.Fatalf("repeat %d: %d %s", i, status, body)
		}
	}
	elapsed := time.Since(start)
	asked := n.checks(t, "bearer") - c0
	t.Logf("%d requests in %v: %d checks", repeats+1, elapsed, asked)
	// nginx keeps an answer for the TTL (1 s) counted in whole seconds:
	// over the loop, at most one check per second begun, plus the first.
	if limit := int(elapsed/time.Second) + 2; asked > limit {
		t.Fatalf("%d requests in %v reached authgate %d times (at most %d with the cache)", repeats+1, elapsed, asked, limit)
	}
	for _, r := range up.Requests()[u0:] {
		if r.URI != "/bearer/items?page=2" || r.Header.Get("X-Authgate-Subject") != subject || r.Header.Get("X-Authgate-Identity") == "" || r.Header.Get("Authorization") != "" {
			t.Fatalf("a request answered from the cache reached the upstream as %s %v", r.URI, r.Header)
		}
	}
	if up.Count()-u0 != repeats {
		t.Fatalf("the upstream got %d of %d requests", up.Count()-u0, repeats)
	}

	// Another URI, another method: asked on their own (the key holds them).
	for _, req := range [][2]string{{"GET", "/bearer/items?page=3"}, {"DELETE", "/bearer/items?page=2"}} {
		before := n.checks(t, "bearer")
		if status, _, body := get(req[0], req[1], bearer...); status != 200 {
			t.Fatalf("%s %s: %d %s", req[0], req[1], status, body)
		}
		if n.checks(t, "bearer") == before {
			t.Fatalf("%s %s was answered from another request's check", req[0], req[1])
		}
	}

	// Refusals are never kept: each is asked.
	before := n.checks(t, "bearer")
	for range 2 {
		if status, _, _ := get("GET", "/bearer/items", "Authorization", "Bearer not-a-token"); status != 401 {
			t.Fatalf("unknown token: %d", status)
		}
	}
	if got := n.checks(t, "bearer") - before; got != 2 {
		t.Fatalf("two refused requests reached authgate %d times", got)
	}

	// A TAAP PoP request: allowed once, refused on replay.
	client := n.taapClient(t, "cache-pop")
	at := n.taapToken(t, client)
	const uri = "/devices/8901260000000000001?fields=status"
	pop := npmPoP(t, client.KeyPEM, [][2]string{{"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "GET"}})[0]
	if status, _, body := get("GET", uri, "Authorization", "Bearer "+at, "X-Authorization", pop); status != 200 || !strings.Contains(body, `"scheme":"taap-pop"`) {
		t.Fatalf("PoP: %d %s", status, body)
	}
	u0 = up.Count()
	if status, hdr, _ := get("GET", uri, "Authorization", "Bearer "+at, "X-Authorization", pop); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_pop_token") || up.Count() != u0 {
		t.Fatalf("replayed PoP: %d %v, upstream reached %d times", status, hdr, up.Count()-u0)
	}

	// Revoked: refused once the answers kept before the revocation expired
	// (TTL 1 s, which nginx keeps until its clock's next second but one).
	if status, _, _ := get("GET", "/bearer/items?page=2", bearer...); status != 200 {
		t.Fatalf("bearer before the revocation: %d", status)
	}
	n.revoke(t, key, secret, token)
	time.Sleep(2100 * time.Millisecond)
	u0 = up.Count()
	for _, p := range []string{"/bearer/items?page=2", "/bearer/items?page=3"} {
		if status, hdr, _ := get("GET", p, bearer...); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) || up.Count() != u0 {
			t.Fatalf("revoked token at %s after the TTL: %d %v, upstream reached %d times", p, status, hdr, up.Count()-u0)
		}
	}
}

// TestAttack_NginxCheckCache: with the check cache on and the snippet's
// own bypass lines removed (authgate's marking alone decides what nginx
// keeps), a PoP request replayed through real nginx is still refused,
// also when the client sends X-Accel-Expires or Cache-Control itself; a
// client's copies of the identity headers never reach the upstream, on
// a request answered from the cache either (nginx overwrites them with
// authgate's answer), and a refused request with them is not kept.
func TestAttack_NginxCheckCache(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, cachingConfig(up))
	up.Handler = verifiedUpstream(t, n).Handler
	f := cachedNginx(t, n, up, func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if t := strings.TrimSpace(l); !strings.HasPrefix(t, "proxy_cache_bypass ") && !strings.HasPrefix(t, "proxy_no_cache ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	})
	if s := fronttest.Snippet(t, gatewayDoc, "nginx-cache"); !strings.Contains(s, "proxy_cache_bypass ") || !strings.Contains(s, "proxy_no_cache ") {
		t.Fatal("the snippet has no bypass lines to remove")
	}
	get := func(path string, hdr ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		return send(t, req)
	}

	client := n.taapClient(t, "attack-pop")
	at := n.taapToken(t, client)
	const uri = "/devices/8901260000000000002"
	pop := npmPoP(t, client.KeyPEM, [][2]string{{"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "GET"}})[0]
	asks := []string{"Authorization", "Bearer " + at, "X-Authorization", pop, "X-Accel-Expires", "3600", "Cache-Control", "max-age=3600"}
	if status, _, body := get(uri, asks...); status != 200 {
		t.Fatalf("PoP: %d %s", status, body)
	}
	u0, c0 := up.Count(), n.checks(t, "devices")
	for range 2 {
		if status, _, _ := get(uri, asks...); status != 401 || up.Count() != u0 {
			t.Fatalf("replayed PoP with the cache on: %d, upstream reached %d times", status, up.Count()-u0)
		}
	}
	if got := n.checks(t, "devices") - c0; got != 2 {
		t.Fatalf("two replays reached authgate %d times: an answer was kept", got)
	}

	// Spoofed identity headers: refused and not kept while nothing is
	// cached for the request; once a clean request's allow is kept, the
	// client's copies are overwritten with authgate's answer.
	key, secret := n.accessKey(t, "attack-cache")
	token := n.token(t, key, secret)
	spoof := []string{"Authorization", "Bearer " + token, "X-Authgate-Subject", "admin", "X-Authgate-Organisation", "org-of-someone-else", "X-Authgate-Identity", "forged"}
	for range 2 {
		if status, _, _ := get("/bearer/spoof", spoof...); status != 400 || up.Count() != u0 {
			t.Fatalf("spoofed identity headers: %d, upstream reached %d times", status, up.Count()-u0)
		}
	}
	if status, _, body := get("/bearer/spoof", "Authorization", "Bearer "+token); status != 200 {
		t.Fatalf("bearer: %d %s", status, body)
	}
	subject := up.Last(t).Header.Get("X-Authgate-Subject")
	status, _, body := get("/bearer/spoof", spoof...)
	got := up.Last(t)
	t.Logf("spoofed identity headers beside a kept answer: %d", status)
	switch {
	case status == 400: // the kept answer expired meanwhile: asked, refused
	case status != 200:
		t.Fatalf("spoofed identity headers beside a kept answer: %d %s", status, body)
	case len(got.Header.Values("X-Authgate-Subject")) != 1 || got.Header.Get("X-Authgate-Subject") != subject ||
		got.Header.Get("X-Authgate-Organisation") == "org-of-someone-else" || got.Header.Get("X-Authgate-Identity") == "forged":
		t.Fatalf("a client's identity headers reached the upstream: %v", got.Header)
	}
}
