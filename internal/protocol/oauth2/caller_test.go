package oauth2_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestRequireHandsCallerToRoute: the route behind Require reads its
// caller with CallerFrom both through the handler chain (the chain's
// per-request state) and without it (a context value of the guard's own).
func TestRequireHandsCallerToRoute(t *testing.T) {
	e := start(t, agtest.Options{}, false, nil)
	access, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	var got oauth2.Caller
	var ok bool
	route := e.mod.Bearer().Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok = oauth2.CallerFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	chain := httpapi.NewHandler(httpapi.Options{}, routeFunc(func(mux *http.ServeMux) { mux.Handle("GET /whoami", route) }))
	for name, h := range map[string]http.Handler{"chain": chain, "bare route": route} {
		t.Run(name, func(t *testing.T) {
			got, ok = oauth2.Caller{}, false
			r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
			r.Header.Set("Authorization", "Bearer "+access)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNoContent || !ok || got.OrgID() != e.Admin.OrgID || got.PrincipalID() == "" {
				t.Fatalf("status %d, caller %+v (%v), want organisation %s", w.Code, got, ok, e.Admin.OrgID)
			}
		})
	}
}
