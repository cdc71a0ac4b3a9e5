package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/fronttest"
)

// gatewayDoc is the documentation whose snippets the front ends run.
const gatewayDoc = "../../../docs/gateway.md"

// The documented snippets' addresses: authgate, the API, the front end.
const (
	docAuthgate    = "127.0.0.1:8080"
	docUpstream    = "127.0.0.1:9000"
	docNginxListen = "listen 80;"
	docCaddySite   = "api.example.com"
)

// frontEnd starts one of the documented front ends before n and up.
type frontEnd struct {
	name  string
	start func(t *testing.T, n *node, up *fronttest.Upstream) *fronttest.Front
}

var frontEnds = []frontEnd{
	{"nginx", func(t *testing.T, n *node, up *fronttest.Upstream) *fronttest.Front {
		return fronttest.Nginx(t, fronttest.Site{Text: fronttest.Snippet(t, gatewayDoc, "nginx"), Listen: docNginxListen,
			Replace: []string{docAuthgate, n.Addr, docUpstream, up.Addr}})
	}},
	{"caddy", func(t *testing.T, n *node, up *fronttest.Upstream) *fronttest.Front {
		return fronttest.Caddy(t, fronttest.Site{Text: fronttest.Snippet(t, gatewayDoc, "caddy"), Listen: docCaddySite,
			Replace: []string{docAuthgate, n.Addr, docUpstream, up.Addr}})
	}},
}

// forwardAuthConfig: OAuth2, TAAP and TPV, a route per scheme, the front
// ends on 127.0.0.1 trusted.
func forwardAuthConfig(up *fronttest.Upstream, trusted string) string {
	return `trusted_proxies: [` + trusted + `]
access_log: false
tpv:
  enabled: true
taap:
  enabled: true
gateway:
  enabled: true
  routes:
    - name: bearer
      path_prefix: /bearer
      schemes: [oauth2-bearer]
      upstreams: [` + up.URL + `]
    - name: devices
      path_prefix: /devices
      schemes: [taap-pop]
      upstreams: [` + up.URL + `]
    - name: signed
      path_prefix: /signed
      schemes: [tpv-signature]
      upstreams: [` + up.URL + `]
`
}

// TestFrontEnds: nginx auth_request and Caddy forward_auth, configured as
// docs/gateway.md shows, in front of an upstream that records what it
// received and verifies X-Authgate-Identity with the JWKS: an OAuth2
// bearer is allowed, the same token refused once revoked, a TAAP PoP
// request built by npm tmo-poptoken-builder allowed once and refused on
// replay, a scheme that signs the body refused without it, and the
// client's X-Authgate-* headers and its own description of the request
// never reach the upstream.
func TestFrontEnds(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, forwardAuthConfig(up, "127.0.0.1/32"))
	up.Handler = verifiedUpstream(t, n).Handler
	key, secret := n.accessKey(t, "fwd")
	client := n.taapClient(t, "fwd-pop")
	at := n.taapToken(t, client)

	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			f := fe.start(t, n, up)
			token := n.token(t, key, secret)
			get := func(path string, hdr ...string) *http.Request {
				req, _ := http.NewRequest("GET", f.URL+path, nil)
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Add(hdr[i], hdr[i+1])
				}
				return req
			}
			before := up.Count()
			// An OAuth2 bearer: allowed, the identity verified upstream, the token kept from it.
			status, _, body := send(t, get("/bearer/items?page=2", "Authorization", "Bearer "+token))
			if status != 200 || !strings.Contains(body, `"scheme":"oauth2-bearer"`) {
				t.Fatalf("bearer: %d %s", status, body)
			}
			got := up.Last(t)
			subject := got.Header.Get("X-Authgate-Subject")
			if got.URI != "/bearer/items?page=2" || subject == "" || got.Header.Get("X-Authgate-Scheme") != "oauth2-bearer" || got.Header.Get("Authorization") != "" {
				t.Fatalf("upstream got %s %v", got.URI, got.Header)
			}

			// Spoofed identity headers never reach the upstream: Caddy drops
			// them before asking, nginx (which cannot drop headers by
			// prefix) has the check refuse the request.
			n0 := up.Count()
			status, _, body = send(t, get("/bearer/items", "Authorization", "Bearer "+token,
				"X-Authgate-Subject", "admin", "X-Authgate-Organisation", "org-of-someone-else", "X-Authgate-Extra", "1"))
			switch fe.name {
			case "nginx":
				if status != 400 || up.Count() != n0 {
					t.Fatalf("spoofed headers through nginx: %d %s, upstream reached %d times", status, body, up.Count()-n0)
				}
			default:
				got = up.Last(t)
				if status != 200 || len(got.Header.Values("X-Authgate-Subject")) != 1 || got.Header.Get("X-Authgate-Subject") != subject ||
					got.Header.Get("X-Authgate-Organisation") == "org-of-someone-else" || got.Header.Get("X-Authgate-Extra") != "" {
					t.Fatalf("spoofed headers through %s: %d, upstream got %v", fe.name, status, got.Header)
				}
			}
			for _, r := range up.Requests()[before:] {
				for name, v := range r.Header {
					if strings.HasPrefix(name, "X-Authgate-") && (strings.Contains(strings.Join(v, ","), "admin") || name == "X-Authgate-Extra") {
						t.Fatalf("a spoofed %s: %q reached the upstream", name, v)
					}
				}
			}

			// The client's own description of another route is not believed:
			// the front end overwrites its own describing header with the
			// request it holds (a TPV-signed route, which the bearer does not
			// open), and a client's header of the other style disagrees with
			// it and is refused.
			own, other := [2]string{"X-Original-URI", "X-Original-Method"}, [2]string{"X-Forwarded-Uri", "X-Forwarded-Method"}
			if fe.name == "caddy" {
				own, other = other, own
			}
			n0 = up.Count()
			status, hdr, _ := send(t, get("/signed/items", "Authorization", "Bearer "+token, own[0], "/bearer/items", own[1], "GET"))
			if status != 401 || up.Count() != n0 {
				t.Fatalf("forged %s: %d %v, upstream reached %d times", own[0], status, hdr, up.Count()-n0)
			}
			status, _, body = send(t, get("/signed/items", "Authorization", "Bearer "+token, other[0], "/bearer/items", other[1], "GET"))
			if status != 400 || up.Count() != n0 {
				t.Fatalf("forged %s: %d %s, upstream reached %d times", other[0], status, body, up.Count()-n0)
			}

			// A TAAP PoP request (npm builder): allowed once, refused on replay.
			const uri = "/devices/8901260000000000001?fields=status"
			pop := npmPoP(t, client.KeyPEM, [][2]string{{"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "GET"}})[0]
			status, _, body = send(t, get(uri, "Authorization", "Bearer "+at, "X-Authorization", pop))
			if status != 200 || !strings.Contains(body, `"scheme":"taap-pop"`) {
				t.Fatalf("PoP: %d %s", status, body)
			}
			if got = up.Last(t); got.URI != uri || got.Header.Get("X-Authorization") != "" || got.Header.Get("Authorization") != "" || got.Header.Get("X-Authgate-Scheme") != "taap-pop" {
				t.Fatalf("upstream got %s %v", got.URI, got.Header)
			}
			n0 = up.Count()
			status, hdr, _ = send(t, get(uri, "Authorization", "Bearer "+at, "X-Authorization", pop))
			if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_pop_token") || up.Count() != n0 {
				t.Fatalf("replayed PoP: %d %v, upstream reached %d times", status, hdr, up.Count()-n0)
			}

			// A body on a GET whose PoP does not sign it: the front end states
			// its length, and the PoP scheme refuses what it cannot check.
			pop2 := npmPoP(t, client.KeyPEM, [][2]string{{"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "GET"}})[0]
			smuggle, _ := http.NewRequest("GET", f.URL+uri, strings.NewReader(`{"delete":"everything"}`))
			smuggle.Header.Set("Authorization", "Bearer "+at)
			smuggle.Header.Set("X-Authorization", pop2)
			n0 = up.Count()
			if status, _, body = send(t, smuggle); status != 400 || up.Count() != n0 {
				t.Fatalf("GET with an unsigned body: %d %s, upstream reached %d times", status, body, up.Count()-n0)
			}

			// A scheme that signs the body, asked about without it: refused.
			post, _ := http.NewRequest("POST", f.URL+"/signed/records", strings.NewReader(`{"a":1}`))
			post.Header.Set("Authorization", "sometoken")
			post.Header.Set("X-TPV-Timestamp", "1700000000")
			post.Header.Set("Signature", strings.Repeat("0", 64))
			n0 = up.Count()
			status, _, body = send(t, post)
			if status != 400 || up.Count() != n0 {
				t.Fatalf("body-signing scheme without the body: %d %s, upstream reached %d times", status, body, up.Count()-n0)
			}
			if fe.name == "caddy" && !strings.Contains(body, "signs the request body") {
				t.Fatalf("Caddy passes the refusal's body: %s", body)
			}

			// Revoked: the same token is refused, in OAuth2's shape.
			n.revoke(t, key, secret, token)
			n0 = up.Count()
			status, hdr, _ = send(t, get("/bearer/items", "Authorization", "Bearer "+token))
			if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) || up.Count() != n0 {
				t.Fatalf("revoked token: %d %v, upstream reached %d times", status, hdr, up.Count()-n0)
			}
		})
	}
}

// TestAttack_UntrustedFrontEnd: a front end whose address is not in
// trusted_proxies is refused whatever it describes, and its client's
// request never reaches the upstream.
func TestAttack_UntrustedFrontEnd(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, forwardAuthConfig(up, "192.0.2.1/32"))
	key, secret := n.accessKey(t, "untrusted")
	token := n.token(t, key, secret)
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			f := fe.start(t, n, up)
			req, _ := http.NewRequest("GET", f.URL+"/bearer/items", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if status, _, body := send(t, req); status != 403 || up.Count() != 0 {
				t.Fatalf("untrusted front end: %d %s, upstream reached %d times", status, body, up.Count())
			}
		})
	}
}

// TestAttack_NginxRefusalsKeepCheckConnections: a flood of refused
// requests through nginx (bad bearer tokens) must not cost nginx a new
// connection to authgate per request. nginx keeps a check connection only
// after an answer without a body, so authgate answers nginx's refused
// checks without one; with the body, every refusal closed a connection
// and left a TIME_WAIT port on nginx's side, and a flood could exhaust
// the ports nginx needs for everyone's checks.
func TestAttack_NginxRefusalsKeepCheckConnections(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, forwardAuthConfig(up, "127.0.0.1/32"))
	f := frontEnds[0].start(t, n, up)
	if frontEnds[0].name != "nginx" {
		t.Fatal("frontEnds[0] is not nginx")
	}
	_, port, err := net.SplitHostPort(n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	refuse := func() {
		req, _ := http.NewRequest("GET", f.URL+"/bearer/items", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		if status, _, body := send(t, req); status != 401 {
			t.Fatalf("a bad token through nginx: %d %s", status, body)
		}
	}
	refuse() // nginx has a connection to authgate
	const floods = 40
	before := closedTo(t, port)
	for range floods {
		refuse()
	}
	if closed := closedTo(t, port) - before; closed > floods/10 {
		t.Fatalf("%d refused requests closed %d connections to authgate: nginx does not keep its check connections after a refusal", floods, closed)
	}
	if up.Count() != 0 {
		t.Fatalf("the upstream was reached %d times", up.Count())
	}
}

// closedTo counts the loopback TCP sockets in TIME_WAIT toward port (on
// the side that closed first: nginx's, when it drops a check connection).
func closedTo(t *testing.T, port string) int {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(":%04X", p)
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			if file == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			// sl local_address rem_address st ...; 06 is TIME_WAIT
			if len(fields) > 3 && strings.HasSuffix(fields[2], want) && fields[3] == "06" {
				n++
			}
		}
	}
	return n
}
