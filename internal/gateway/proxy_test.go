package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
)

func TestProxy(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("api", "/api", "oauth2-bearer", "tpv-signature")
	r.Upstreams = []string{up.URL + "/base"}
	r.StripPrefix = true
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})

	status, hdr, body := call(t, "GET", base+"/api/items/a%20b?q=1&r=%2F", nil, "X-Test-Bearer", "alice", "X-Forwarded-For", "203.0.113.9")
	if status != 200 || body != "hello from one" || hdr.Get("X-Upstream") != "one" {
		t.Fatalf("%d %q %v", status, body, hdr)
	}
	got := up.last(t)
	if got.Path != "/base/items/a b" || got.Query != "q=1&r=%2F" || got.Method != "GET" {
		t.Fatalf("upstream saw %s %q ? %q", got.Method, got.Path, got.Query)
	}
	if got.Header.Get(gateway.HeaderSubject) != "alice" || got.Header.Get(gateway.HeaderOrganisation) != "org-a" ||
		got.Header.Get(gateway.HeaderScheme) != "oauth2-bearer" || got.Header.Get(gateway.HeaderScope) != "read write" {
		t.Fatalf("identity headers %v", got.Header)
	}
	verifyIdentity(t, f, got.Header.Get(gateway.HeaderIdentity), "api")
	if got.Header.Get("X-Test-Bearer") != "" {
		t.Fatal("the client's credential reached the upstream")
	}
	// The client's own X-Forwarded-For is not believed from an untrusted peer.
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For %q", xff)
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") != strings.TrimPrefix(base, "http://") {
		t.Fatalf("X-Forwarded-* %v", got.Header)
	}
	if got.Host != strings.TrimPrefix(up.URL, "http://") {
		t.Fatalf("upstream Host %q", got.Host)
	}
	// The prefix itself maps to the base path.
	call(t, "GET", base+"/api", nil, "X-Test-Bearer", "alice")
	if p := up.last(t).Path; p != "/base" {
		t.Fatalf("prefix alone went to %q", p)
	}
	// A scheme that signs the body gets it buffered, and the upstream the same body.
	status, _, _ = call(t, "POST", base+"/api/sales", strings.NewReader("alice signed this"), "X-Test-Sig", "alice")
	if got := up.last(t); status != 200 || got.Body != "alice signed this" || got.Header.Get("X-Test-Sig") != "" || got.Header.Get(gateway.HeaderScheme) != "tpv-signature" {
		t.Fatalf("buffered body: %d %+v", status, got)
	}
	// A bearer POST body is streamed through.
	status, _, _ = call(t, "POST", base+"/api/upload", strings.NewReader(strings.Repeat("x", 100000)), "X-Test-Bearer", "alice")
	if got := up.last(t); status != 200 || len(got.Body) != 100000 {
		t.Fatalf("streamed body: %d %d bytes", status, len(got.Body))
	}
}

func TestProxyTrustedForwarding(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("api", "/api")
	r.Upstreams = []string{up.URL}
	trusted, _ := httpapi.ParsePrefixes([]string{"127.0.0.0/8"})
	f := newFixtureWith(t, func(d *gateway.Deps) { d.Addr = httpapi.ClientAddr{Trusted: trusted} }, r)
	base := f.serve(t, httpapi.Limits{ClientAddr: httpapi.ClientAddr{Trusted: trusted}})
	call(t, "GET", base+"/api", nil, "X-Test-Bearer", "alice", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https")
	got := up.last(t)
	if xff := got.Header.Get("X-Forwarded-For"); xff != "203.0.113.9, 127.0.0.1" || got.Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("behind a trusted proxy: %v", got.Header)
	}
}

func TestProxyRoundRobin(t *testing.T) {
	one, two := newUpstream(t, "one"), newUpstream(t, "two")
	r := route("api", "/api")
	r.Upstreams = []string{one.URL, two.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	for range 6 {
		if status, _, _ := call(t, "GET", base+"/api", nil, "X-Test-Bearer", "alice"); status != 200 {
			t.Fatal(status)
		}
	}
	if a, b := len(one.requests()), len(two.requests()); a != 3 || b != 3 {
		t.Fatalf("round-robin: %d and %d", a, b)
	}
}

// TestProxyUpstreamFailures: 502 and 504 in the route's scheme's shape.
func TestProxyUpstreamFailures(t *testing.T) {
	down := newUpstream(t, "down")
	down.Close()
	release := make(chan struct{})
	slow := newUpstream(t, "slow")
	slow.handle = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	defer close(release)
	rd := route("down", "/down")
	rd.Upstreams = []string{down.URL}
	rs := route("slow", "/slow")
	rs.Upstreams = []string{slow.URL}
	rs.Timeout = gateway.Duration(time.Second)
	f := newFixture(t, rd, rs)
	base := f.serve(t, httpapi.Limits{})
	status, hdr, body := call(t, "GET", base+"/down/x", nil, "X-Test-Bearer", "alice")
	if status != http.StatusBadGateway || !strings.Contains(body, `"scheme":"oauth2-bearer"`) || hdr.Get("WWW-Authenticate") != "" {
		t.Fatalf("down: %d %q %v", status, body, hdr)
	}
	status, _, body = call(t, "GET", base+"/slow/x", nil, "X-Test-Bearer", "alice")
	if status != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer in time") {
		t.Fatalf("slow: %d %q", status, body)
	}
}

// TestProxyTimeoutEndsAtHeaders: the route's timeout bounds the exchange
// up to the response headers only; a body still streaming after it is
// passed on whole.
func TestProxyTimeoutEndsAtHeaders(t *testing.T) {
	up := newUpstream(t, "late")
	up.handle = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-time.After(1500 * time.Millisecond): // past the route's timeout
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	}
	r := route("api", "/api")
	r.Upstreams = []string{up.URL}
	r.Timeout = gateway.Duration(time.Second)
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	status, _, body := call(t, "GET", base+"/api/events", nil, "X-Test-Bearer", "alice")
	if status != http.StatusOK || body != "first\nsecond\n" {
		t.Fatalf("%d %q", status, body)
	}
}

// TestProxyStreamsResponses: the client reads the first part of a
// response while the upstream is still writing it.
func TestProxyStreamsResponses(t *testing.T) {
	up := newUpstream(t, "stream")
	more := make(chan struct{})
	up.handle = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-more
		_, _ = io.WriteString(w, "second\n")
	}
	r := route("api", "/api")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	req, _ := http.NewRequest("GET", base+"/api/events", nil)
	req.Header.Set("X-Test-Bearer", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first part: %q %v", line, err)
	}
	close(more)
	if line, err := br.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second part: %q %v", line, err)
	}
}

// TestProxyWebSocket: an Upgrade is passed through and both directions
// flow over the upgraded connection.
func TestProxyWebSocket(t *testing.T) {
	up := newUpstream(t, "ws")
	up.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get(gateway.HeaderSubject) != "alice" {
			http.Error(w, "not an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		line, _ := brw.ReadString('\n')
		_, _ = io.WriteString(conn, "echo "+line)
	}
	r := route("ws", "/ws")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Test-Bearer: alice\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(c, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Fatalf("over the upgraded connection: %q %v", line, err)
	}
}

// TestPrecedence: authgate's own routes win on every path they serve,
// under any method; the gateway takes the rest.
func TestPrecedence(t *testing.T) {
	up := newUpstream(t, "one")
	r := route("all", "/")
	r.Upstreams = []string{up.URL}
	f := newFixture(t, r)
	base := f.serve(t, httpapi.Limits{})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"POST", "/oauth/token", 200, "builtin token"},
		{"GET", "/oauth/token", 405, ""}, // a built-in path under another method stays authgate's
		{"GET", "/", 200, "builtin root"},
		{"GET", "/demo/items", 200, "builtin items"},
		{"GET", "/demo/other", 200, "hello from one"},
		{"GET", "/healthz", 200, `{"status":"ok"}`},
	} {
		status, _, body := call(t, tc.method, base+tc.path, nil, "X-Test-Bearer", "alice")
		if status != tc.status || !strings.HasPrefix(body, tc.body) {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, status, body)
		}
	}
	if n := len(up.requests()); n != 1 {
		t.Fatalf("upstream got %d requests, want 1", n)
	}
	if got := up.last(t); got.Path != "/demo/other" {
		t.Fatalf("upstream got %s", got.Path)
	}
}
