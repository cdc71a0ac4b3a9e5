package oauth2_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
)

// resourceRoute is the "ok" resource behind BearerAuth.Require, as
// `authgate bench` serves it for its bearer scheme.
type resourceRoute struct{ b *oauth2.BearerAuth }

func (m resourceRoute) Register(mux *http.ServeMux) {
	mux.Handle("GET /bench/protected", m.b.Require(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})))
}

// BenchmarkBearerResource is a bearer-protected resource served through
// the whole handler chain (access log off, as `authgate bench` runs it),
// in process, next to the same chain serving the bare answer: the
// difference is the bearer check's own cost per request
// (go test -bench BearerResource -run '^$' ./internal/protocol/oauth2).
func BenchmarkBearerResource(b *testing.B) {
	m, e, tok := adminBench(b)
	h := httpapi.NewHandler(httpapi.Options{Log: e.Svc.Log, Ready: e.Svc.Store, AccessLog: httpapi.AccessLogOff}, resourceRoute{m.Bearer()})
	bare := httpapi.NewHandler(httpapi.Options{Log: e.Svc.Log, AccessLog: httpapi.AccessLogOff}, routeFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /bench/protected", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok"))
		})
	}))
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"chain-bare", bare}, {"chain-bearer", h}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/bench/protected", nil)
				r.RemoteAddr = "192.0.2.1:40000"
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

type routeFunc func(mux *http.ServeMux)

func (f routeFunc) Register(mux *http.ServeMux) { f(mux) }

// BenchmarkBearerLoopback is `authgate bench`'s bearer scheme against
// its bare baseline in one process, over loopback with kept-alive
// connections and the same client: bench.BareServer's handler, and the
// bearer-protected answer behind httpapi.Server and the whole handler
// chain as serveOn runs it. allocs/op and B/op count both sides (client
// and server), as the in-process bench pays them
// (go test -bench BearerLoopback -run '^$' ./internal/protocol/oauth2).
func BenchmarkBearerLoopback(b *testing.B) {
	m, e, tok := adminBench(b)

	bareURL, stopBare, err := bench.BareServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stopBare)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	h := httpapi.NewHandler(httpapi.Options{Log: e.Svc.Log, Ready: e.Svc.Store, AccessLog: httpapi.AccessLogOff}, resourceRoute{m.Bearer()})
	srv := &httpapi.Server{Name: "bench", Handler: h, Log: e.Svc.Log, DrainTime: time.Second}
	go func() { _ = srv.Serve(ctx, ln) }()

	const conc = 16
	for _, tc := range []struct {
		name string
		s    bench.Scheme
	}{
		{"bare", bench.GetScheme("bare", bareURL, nil)},
		{"bearer", bench.GetScheme("bearer", "http://"+ln.Addr().String()+"/bench/protected", http.Header{"Authorization": {"Bearer " + tok}})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := bench.NewClient(conc, nil)
			defer client.CloseIdleConnections()
			b.SetParallelism((conc + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			cpu0 := bench.ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, err := tc.s.Request(context.Background())
					if err != nil {
						b.Error(err)
						return
					}
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			// CPU time moves far less with other load on the machine than
			// ns/op does.
			b.ReportMetric(float64((bench.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
