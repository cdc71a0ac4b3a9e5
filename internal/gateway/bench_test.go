package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// BenchmarkDecide: match, a hand-built scheme, the privilege check and the
// identity token (reused per credential): the gateway's own cost per
// request, without proxying (go test -bench Decide -run '^$' ./internal/gateway).
func BenchmarkDecide(b *testing.B) {
	f := newFixture(&testing.T{}, route("api", "/api"), route("other", "/other"))
	r := httptest.NewRequest("GET", "/api/items/1", nil)
	r.Header.Set("X-Test-Bearer", "alice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.gw.Decide(ctx, scheme.Request{HTTP: r}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForwardAuthCheck is one nginx auth_request check through the
// whole handler chain (access log off): the check request as the
// documented nginx snippet sends it, described, decided (a hand-built
// scheme, the privilege check, the identity token reused per credential)
// and answered with the identity headers
// (go test -bench ForwardAuthCheck -run '^$' ./internal/gateway).
func BenchmarkForwardAuthCheck(b *testing.B) { benchForwardAuthCheck(b, "alice") }

// BenchmarkForwardAuthCheckNoScope: the same for a credential without a
// scope (an answer with an empty X-Authgate-Scope).
func BenchmarkForwardAuthCheckNoScope(b *testing.B) { benchForwardAuthCheck(b, "bob") }

func benchForwardAuthCheck(b *testing.B, caller string) {
	f, fa := forwardAuth(&testing.T{}, route("api", "/api"))
	h := httpapi.NewHandler(httpapi.Options{Log: f.svc.Log, AccessLog: httpapi.AccessLogOff}, fa)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", gateway.CheckPath, nil)
		r.RemoteAddr = frontEnd + ":40000"
		r.Host = "api.example"
		for _, kv := range [][2]string{{"X-Original-Uri", "/api/items/1?x=y"}, {"X-Original-Method", "GET"},
			{"X-Original-Content-Length", "0"}, {"X-Forwarded-Proto", "http"}, {"X-Forwarded-For", "198.51.100.7"},
			{"X-Test-Bearer", caller}, {"User-Agent", "wrk"}, {"Accept", "*/*"}} {
			r.Header[kv[0]] = []string{kv[1]}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGatewayProxyBearer is one bearer request proxied in gateway
// mode through the main listener's chain as serve builds it (the default
// limits with trusted_proxies 127.0.0.1/32, access log off, the built-in
// routes first, the gateway as the fallback, the issuer from the Origin
// serve builds without public_url) to an upstream on loopback answering
// "ok": the route match, the hand-built bearer scheme, the privilege
// check, the identity token (reused per credential), the rewrite and the
// proxying, per request (go test -bench GatewayProxyBearer -run '^$'
// ./internal/gateway).
func BenchmarkGatewayProxyBearer(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	cfg := config.Default()
	cfg.TrustedProxies = []string{"127.0.0.1/32"}
	limits := cfg.HTTPLimits()
	reg := prometheus.NewRegistry()
	rt := route("bench", "/bench")
	rt.Upstreams = []string{up.URL}
	f := newFixtureWith(&testing.T{}, func(d *gateway.Deps) {
		origin, err := httpapi.NewOrigin("", nil, limits.ClientAddr) // as serve builds it without public_url
		if err != nil {
			b.Fatal(err)
		}
		d.Addr, d.Issuer, d.Metrics = limits.ClientAddr, origin.Base, reg
	}, rt)
	h := httpapi.NewHandler(httpapi.Options{Log: f.svc.Log, Ready: f.svc.Store, AccessLog: httpapi.AccessLogOff, Limits: limits,
		Registry: reg, Server: "main", Fallback: f.gw}, builtin{}, f.gw)
	if err := f.gw.Mount(h.Serves); err != nil {
		b.Fatal(err)
	}
	proxyRequests(b, h)
}

// BenchmarkBareReverseProxy is BenchmarkGatewayProxyBearer's request
// through a bare httputil.ReverseProxy as bench/gateway/proxy builds it
// (the upstream's URL and X-Forwarded-* set, no chain, no check, no
// buffer pool: a 32 KiB copy buffer per response): the floor the
// gateway's cost compares with
// (go test -bench 'GatewayProxyBearer$|BareReverseProxy' -cpu 1 ./internal/gateway).
func BenchmarkBareReverseProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	target, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() // as bench/gateway/proxy builds it
	tr.MaxIdleConnsPerHost = 256
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: tr,
	}
	proxyRequests(b, proxy)
}

// proxyRequests sends the benchmark's bearer request to h b.N times, as
// a client on loopback sends it to 127.0.0.1:8080, and reports the
// process's CPU per request (cpu-ns/op: the upstream's and the GC's
// included).
func proxyRequests(b *testing.B, h http.Handler) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, local)
	b.ReportAllocs()
	cpu := bench.ProcessCPU()
	for b.Loop() {
		r := httptest.NewRequestWithContext(ctx, "GET", "/bench/", nil)
		r.RemoteAddr, r.Host = "127.0.0.1:40000", "127.0.0.1:8080"
		r.Header["X-Test-Bearer"] = []string{"alice"}
		r.Header["User-Agent"] = []string{"wrk"}
		r.Header["Accept"] = []string{"*/*"}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != "ok" {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if used := bench.ProcessCPU() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkForwardAuthCheckServer is the same check over loopback TCP:
// "authgate" served as authgate serve serves it (httpapi.Server: strict
// listener, connection limits, http.Server timeouts, the handler chain),
// "bare" a plain http.Server whose handler only writes authgate's answer
// headers (bench/gateway/nocheck's work): what a check costs authgate end
// to end, read and write syscalls included, and how much of it any Go
// HTTP server would spend. Eight keep-alive connections send the request
// bytes nginx's snippet sends and read the header-only answer with a
// minimal client (go test -bench ForwardAuthCheckServer -cpu 1
// -cpuprofile ... ./internal/gateway; pprof -focus 'net/http.\(\*conn\)').
func BenchmarkForwardAuthCheckServer(b *testing.B) {
	f := newFixtureWith(&testing.T{}, func(d *gateway.Deps) {
		d.Addr = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	}, route("api", "/api"))
	fa := gateway.NewForwardAuth(f.gw)
	h := httpapi.NewHandler(httpapi.Options{Log: f.svc.Log, AccessLog: httpapi.AccessLogOff}, fa)
	req := []byte("GET /gateway/check HTTP/1.1\r\nHost: api.example\r\nX-Original-URI: /api/items/1?x=y\r\n" +
		"X-Original-Method: GET\r\nX-Original-Content-Length: 0\r\nX-Forwarded-Proto: http\r\n" +
		"X-Forwarded-For: 198.51.100.7\r\nX-Test-Bearer: alice\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	b.Run("authgate", func(b *testing.B) {
		ln := listen(b)
		ctx, cancel := context.WithCancel(context.Background())
		srv := &httpapi.Server{Name: "bench", Handler: h, Log: f.svc.Log, DrainTime: time.Second}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		b.Cleanup(func() { cancel(); <-done })
		loopbackChecks(b, ln.Addr().String(), req)
	})
	b.Run("bare", func(b *testing.B) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
		if err != nil {
			b.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		answer := http.Header{}
		for name, v := range w.Header() {
			if name == "Cache-Control" || strings.HasPrefix(name, gateway.HeaderPrefix) {
				answer[name] = v
			}
		}
		if w.Code != http.StatusOK || len(answer) != 6 {
			b.Fatalf("authgate's answer: %d %v", w.Code, w.Header())
		}
		ln := listen(b)
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			out := w.Header()
			for k, v := range answer {
				out[k] = v
			}
			w.WriteHeader(http.StatusOK)
		})}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
		loopbackChecks(b, ln.Addr().String(), req)
	})
}

func listen(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// loopbackChecks sends req b.N times over eight keep-alive connections to
// addr, each answer 200 without a body.
func loopbackChecks(b *testing.B, addr string, req []byte) {
	const conns = 8
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				status, err := br.ReadSlice('\n')
				if err != nil || !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
					errs <- fmt.Errorf("status %q: %v", status, err)
					return
				}
				for { // the answer to a header-only check has no body
					line, err := br.ReadSlice('\n')
					if err != nil {
						errs <- err
						return
					}
					if len(line) == 2 {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
