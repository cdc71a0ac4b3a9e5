package gateway_test

import (
	"context"
	"net/http/httptest"
	"testing"

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
