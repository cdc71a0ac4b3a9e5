package oauth2_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/authgate/authgate/internal/scheme"
)

// BenchmarkBearerAuthenticate is the in-process cost of one bearer check
// through the module's routes' path and through the oauth2-bearer scheme
// (the same core.BearerAuth), with the access-token cache as configured
// by default.
func BenchmarkBearerAuthenticate(b *testing.B) {
	m, _, tok := adminBench(b)
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ba := m.Bearer()
	b.Run("route", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := ba.Authenticate(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	sc := m.Schemes()[0]
	req := scheme.Request{HTTP: r, Addr: netip.MustParseAddr("192.0.2.1")}
	b.Run("scheme", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := sc.Authenticate(r.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
