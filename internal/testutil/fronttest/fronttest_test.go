package fronttest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/testutil/fronttest"
)

// checker is a stand-in auth service: it records what the front end asked
// and allows requests carrying "Authorization: ok".
type checker struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.seen = append(c.seen, r.Clone(r.Context()))
	c.mu.Unlock()
	if r.Header.Get("Authorization") == "anonymous" {
		// Allowed, with an empty identity header: Caddy 2.6's copy_headers
		// writes its placeholder's name for an absent one.
		w.Header()["X-Authgate-Subject"] = []string{""}
		return
	}
	if r.Header.Get("Authorization") != "ok" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="t"`)
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Authgate-Subject", "alice")
}

func (c *checker) last(t *testing.T) *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		t.Fatal("the check was not asked")
	}
	return c.seen[len(c.seen)-1]
}

// nginxSite and caddySite are minimal forward-auth sites (docs/gateway.md has
// the complete ones authgate's tests run).
const nginxSite = `server {
	listen 80;
	location = /_check {
		internal;
		proxy_pass http://127.0.0.1:8080/gateway/check;
		proxy_pass_request_body off;
		proxy_set_header Content-Length "";
		proxy_set_header Host $host;
		proxy_set_header X-Original-URI $request_uri;
		proxy_set_header X-Original-Method $request_method;
	}
	location / {
		auth_request /_check;
		auth_request_set $ag_subject $upstream_http_x_authgate_subject;
		proxy_set_header X-Authgate-Subject $ag_subject;
		proxy_pass http://127.0.0.1:9000;
	}
}
`

const caddySite = `http://:80 {
	route {
		request_header -X-Authgate-*
		forward_auth 127.0.0.1:8080 {
			uri /gateway/check
			copy_headers X-Authgate-Subject
		}
		reverse_proxy 127.0.0.1:9000
	}
}
`

// TestFrontEnds: each front end starts as the current user on loopback,
// asks the check before proxying, passes the check's identity header (not
// the client's) to the recording upstream, and answers the check's refusal
// without reaching the upstream.
func TestFrontEnds(t *testing.T) {
	for _, fe := range []struct {
		name  string
		start func(testing.TB, fronttest.Site) *fronttest.Front
		site  string
		lis   string
	}{
		{"nginx", fronttest.Nginx, nginxSite, "listen 80;"},
		{"caddy", fronttest.Caddy, caddySite, "http://:80"},
	} {
		t.Run(fe.name, func(t *testing.T) {
			chk := &checker{}
			auth := httptest.NewServer(chk)
			defer auth.Close()
			up := fronttest.NewUpstream(t)
			f := fe.start(t, fronttest.Site{Text: fe.site, Listen: fe.lis,
				Replace: []string{"127.0.0.1:8080", strings.TrimPrefix(auth.URL, "http://"), "127.0.0.1:9000", up.Addr}})

			req, _ := http.NewRequest("POST", f.URL+"/api/x?a=1", strings.NewReader("payload"))
			req.Host = "api.example"
			req.Header.Set("Authorization", "ok")
			req.Header.Set("X-Authgate-Subject", "mallory")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("allowed request: %d %s\n%s", resp.StatusCode, b, f.Log())
			}
			if c := chk.last(t); c.Method != "GET" || c.Header.Get("Authorization") != "ok" {
				t.Fatalf("the check got %s %v", c.Method, c.Header)
			}
			got := up.Last(t)
			if got.Method != "POST" || got.URI != "/api/x?a=1" || string(got.Body) != "payload" {
				t.Fatalf("upstream got %s %s %q", got.Method, got.URI, got.Body)
			}
			if v := got.Header.Values("X-Authgate-Subject"); len(v) != 1 || v[0] != "alice" {
				t.Fatalf("upstream X-Authgate-Subject %q, want only the check's answer", v)
			}

			// An answer without the header: the client's copy must not pass either.
			req, _ = http.NewRequest("GET", f.URL+"/api/x", nil)
			req.Header.Set("Authorization", "anonymous")
			req.Header.Set("X-Authgate-Subject", "mallory")
			req.Header.Set("X-Authgate-Other", "mallory")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := up.Last(t); resp.StatusCode != 200 || got.Header.Get("X-Authgate-Subject") != "" {
				t.Fatalf("anonymous answer: %d, upstream X-Authgate-Subject %q", resp.StatusCode, got.Header.Values("X-Authgate-Subject"))
			}

			req, _ = http.NewRequest("GET", f.URL+"/api/x", nil)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || up.Count() != 2 {
				t.Fatalf("refused request: %d, upstream saw %d requests", resp.StatusCode, up.Count())
			}
		})
	}
}
