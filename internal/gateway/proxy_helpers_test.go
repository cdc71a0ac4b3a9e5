package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/httpapi"
)

// seen is what an upstream received.
type seen struct {
	Method, Path, RawPath, Query, Host string
	Header                             http.Header
	Body                               string
}

// upstream records every request and answers 200 "hello from NAME"
// unless handle is set.
type upstream struct {
	*httptest.Server
	name   string
	mu     sync.Mutex
	got    []seen
	handle func(w http.ResponseWriter, r *http.Request)
}

func newUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, seen{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: string(b)})
		h := u.handle
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Upstream", name)
		_, _ = io.WriteString(w, "hello from "+name)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.got...)
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	g := u.requests()
	if len(g) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return g[len(g)-1]
}

// builtin stands for authgate's own routes on the main listener.
type builtin struct{}

func (builtin) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "builtin token") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "builtin root") })
	mux.HandleFunc("GET /demo/items", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "builtin items") })
}

// serve runs the gateway as the main listener does: built-in routes
// first, the gateway as the fallback, the usual chain around both.
func (f *fixture) serve(t *testing.T, limits httpapi.Limits) string {
	t.Helper()
	h := httpapi.NewHandler(httpapi.Options{Log: f.svc.Log, Ready: f.svc.Store, Limits: limits, Fallback: f.gw}, builtin{}, f.gw)
	if err := f.gw.Mount(h.Serves); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// call sends one request and returns status, headers and body.
func call(t *testing.T, method, url string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// rawRequest writes a request as given on a fresh connection and returns
// the response's status line and body.
func rawRequest(t *testing.T, base, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
