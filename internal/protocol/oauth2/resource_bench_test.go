package oauth2_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
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
	var m *oauth2.Module
	e := agtest.Start(b, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		var err error
		if m, err = oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{}); err != nil {
			b.Fatal(err)
		}
		return []httpapi.Module{m}
	})
	tok := passwordToken(b, e.URL, url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode())
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
