package adminapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// benchCaller authenticates every request as an administrator without a
// store, so the benchmarks measure the mount alone.
type benchCaller struct{}

func (benchCaller) AdminCaller(context.Context, core.BearerRequest) (core.BearerCaller, error) {
	return core.BearerCaller{Kind: core.PrincipalAdmin, Token: core.Token{OrgID: core.SystemOrgID, PrincipalID: "admin-1"}}, nil
}

func benchMux(b *testing.B) *http.ServeMux {
	b.Helper()
	a, err := adminapi.New(adminapi.Deps{Bearer: benchCaller{}, Authz: core.NewAuthorizer(nil)}, testRoutes())
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	return mux
}

// BenchmarkMountGET: authentication (faked), the route's privilege check,
// the handler and the JSON answer of a GET.
func BenchmarkMountGET(b *testing.B) {
	mux := benchMux(b)
	req := httptest.NewRequest("GET", "/admin/test/secret", nil)
	req.Header.Set("Authorization", "Bearer x")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	}
}

// BenchmarkMountPOST adds reading, bounding and decoding a JSON body.
func BenchmarkMountPOST(b *testing.B) {
	mux := benchMux(b)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/admin/test/echo", strings.NewReader(`{"name":"bench","count":41}`))
		req.Header.Set("Authorization", "Bearer x")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 201 {
			b.Fatal(w.Code, w.Body)
		}
	}
}

// BenchmarkNew: building the mount and its validated OpenAPI document (once per start).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := adminapi.New(adminapi.Deps{Bearer: benchCaller{}, Authz: core.NewAuthorizer(nil)}, testRoutes(), adminapi.Objects{}.AdminRoutes()); err != nil {
			b.Fatal(err)
		}
	}
}
