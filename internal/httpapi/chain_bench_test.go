package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkChain compares the full handler chain with the bare mux, per
// request and without the network, to keep the chain's cost visible.
func BenchmarkChain(b *testing.B) {
	ok := routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	})
	bare := http.NewServeMux()
	ok(bare)
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare-mux", bare},
		{"chain-access-log", NewHandler(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, ok)},
		{"chain-no-access-log", NewHandler(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessLog: AccessLogOff}, ok)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/ok", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tc.h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		})
	}
}
