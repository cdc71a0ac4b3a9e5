package oauth2_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestRequireHandsCallerToRoute: the route behind Require reads its
// caller with CallerFrom both through the handler chain (the chain's
// per-request state) and without it (a context value of the guard's own),
// for a token that records its holder's kind (kept as the token cache's
// shared token) and for one that records none (the kind read from the
// holder).
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
	call := func(t *testing.T, h http.Handler, token string) oauth2.Caller {
		t.Helper()
		got, ok = oauth2.Caller{}, false
		r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent || !ok || got.OrgID() != e.Admin.OrgID || got.PrincipalID() == "" {
			t.Fatalf("status %d, caller %+v (%v), want organisation %s", w.Code, got, ok, e.Admin.OrgID)
		}
		return got
	}
	first := call(t, chain, access)
	if first.Kind != core.PrincipalAdmin || first.Token.PrincipalKind != core.PrincipalAdmin {
		t.Fatalf("caller of a token recording its kind: %+v", first)
	}
	// A token issued without the holder's kind (as before kinds were
	// recorded): the kind is the holder's, read from the store.
	unkinded, tok, err := e.Svc.Tokens.Issue(context.Background(), core.TokenSpec{Kind: core.TokenAccess, OrgID: first.OrgID(),
		PrincipalID: first.PrincipalID(), Scope: first.Token.Scope, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{"chain": chain, "bare route": route} {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				if c := call(t, h, access); c.Token.ID != first.Token.ID || c.Kind != core.PrincipalAdmin || c.Token.Scope != first.Token.Scope {
					t.Fatalf("caller %+v, want %+v", c, first)
				}
				if c := call(t, h, unkinded); c.Token.ID != tok.ID || c.Token.PrincipalKind != "" || c.Kind != core.PrincipalAdmin {
					t.Fatalf("caller of a token without a kind: %+v, want kind %s", c, core.PrincipalAdmin)
				}
			}
		})
	}
}
