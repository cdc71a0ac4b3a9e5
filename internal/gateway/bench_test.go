package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

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
func BenchmarkForwardAuthCheck(b *testing.B) {
	f, fa := forwardAuth(&testing.T{}, route("api", "/api"))
	h := httpapi.NewHandler(httpapi.Options{Log: f.svc.Log, AccessLog: httpapi.AccessLogOff}, fa)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", gateway.CheckPath, nil)
		r.RemoteAddr = frontEnd + ":40000"
		r.Host = "api.example"
		for _, kv := range [][2]string{{"X-Original-Uri", "/api/items/1?x=y"}, {"X-Original-Method", "GET"},
			{"X-Original-Content-Length", "0"}, {"X-Forwarded-Proto", "http"}, {"X-Forwarded-For", "198.51.100.7"},
			{"X-Test-Bearer", "alice"}, {"User-Agent", "wrk"}, {"Accept", "*/*"}} {
			r.Header[kv[0]] = []string{kv[1]}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
