package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// adminCaller authenticates "Bearer admin" as an administrator and
// "Bearer owner" as an owner of org-1; anything else is refused.
type adminCaller struct{}

func (adminCaller) AdminCaller(_ context.Context, req core.BearerRequest) (core.BearerCaller, error) {
	v, ok := core.ParseBearer(req.Header)
	switch {
	case !ok:
		return core.BearerCaller{}, core.ErrBearerMissing
	case v == "admin":
		return core.BearerCaller{Kind: core.PrincipalAdmin, Token: core.Token{OrgID: core.SystemOrgID, PrincipalID: "admin-1"}}, nil
	case v == "owner":
		return core.BearerCaller{Kind: core.PrincipalOwner, Token: core.Token{OrgID: "org-1", PrincipalID: "owner-1"}}, nil
	}
	return core.BearerCaller{}, core.E(core.KindUnauthenticated, "invalid token")
}

// noObjects is an empty store of the core's objects that still authorizes
// as the real operations do.
type noObjects struct{}

func (noObjects) ListOrganisations(ctx context.Context, g core.Gate, _ core.Page) ([]core.OrganisationView, int, error) {
	_, err := core.ListOrg(ctx, g, core.ActOrganisationsRead, "", "")
	return nil, 0, err
}
func (noObjects) GetOrganisation(ctx context.Context, g core.Gate, id string) (core.OrganisationView, error) {
	return core.OrganisationView{}, get(ctx, g, core.ActOrganisationsRead, id)
}
func (noObjects) CreateOrganisationAs(ctx context.Context, g core.Gate, in core.NewOrganisation) (core.OrganisationView, error) {
	if err := g.Authorize(ctx, core.ActOrganisationsCreate, core.Target{}, ""); err != nil {
		return core.OrganisationView{}, err
	}
	return core.OrganisationView{Name: in.Name}, core.ValidName("organisation name", in.Name)
}
func (noObjects) ListPrincipals(ctx context.Context, g core.Gate, org string, _ core.PrincipalKind, _ core.Page) ([]core.PrincipalView, int, error) {
	_, err := core.ListOrg(ctx, g, core.ActPrincipalsRead, org, "")
	return nil, 0, err
}
func (noObjects) GetPrincipal(ctx context.Context, g core.Gate, id string) (core.PrincipalView, error) {
	return core.PrincipalView{}, get(ctx, g, core.ActPrincipalsRead, id)
}
func (noObjects) CreatePrincipalAs(ctx context.Context, g core.Gate, in core.NewPrincipal) (core.PrincipalView, error) {
	return core.PrincipalView{}, get(ctx, g, core.ActPrincipalsCreate, in.OrgID)
}
func (noObjects) DisablePrincipal(ctx context.Context, g core.Gate, id string) (core.PrincipalDisabled, error) {
	return core.PrincipalDisabled{}, get(ctx, g, core.ActPrincipalsDisable, id)
}
func (noObjects) ListCredentials(ctx context.Context, g core.Gate, f core.CredentialFilter, _ core.Page) ([]core.CredentialView, int, error) {
	_, err := core.ListOrg(ctx, g, core.ActCredentialsRead, f.OrgID, "")
	return nil, 0, err
}
func (noObjects) GetCredential(ctx context.Context, g core.Gate, id string) (core.CredentialView, error) {
	return core.CredentialView{}, get(ctx, g, core.ActCredentialsRead, id)
}
func (noObjects) CreateCredentialAs(ctx context.Context, g core.Gate, in core.NewCredential) (core.CreatedCredential, error) {
	return core.CreatedCredential{}, get(ctx, g, core.ActCredentialsCreate, in.PrincipalID)
}
func (noObjects) RevokeCredentialAs(ctx context.Context, g core.Gate, id string) (core.CredentialRevoked, error) {
	return core.CredentialRevoked{}, get(ctx, g, core.ActCredentialsRevoke, id)
}

// get authorizes action on an object of org-2, then finds nothing.
func get(ctx context.Context, g core.Gate, action core.Action, id string) error {
	if err := g.Authorize(ctx, action, core.Target{OrgID: "org-2"}, ""); err != nil {
		return err
	}
	return core.E(core.KindNotFound, "no such object "+core.LogSafe(id, 32))
}

// FuzzAdminAPIRequest sends arbitrary methods, paths, queries and bodies
// to the admin API's mount over the core objects' routes: no panic, no
// server error, every refusal in the admin error shape, nothing served
// to a caller without a token.
func FuzzAdminAPIRequest(f *testing.F) {
	for _, s := range []struct{ method, path, query, auth, body string }{
		{"GET", "/admin/organisations", "limit=2&cursor=2", "admin", ""},
		{"POST", "/admin/organisations", "", "admin", `{"name":"acme"}`},
		{"POST", "/admin/principals", "", "owner", `{"org_id":"o","kind":"user","name":"n","x":1}`},
		{"GET", "/admin/credentials", "kind=access_key&include_revoked=true", "owner", ""},
		{"POST", "/admin/credentials/..%2f/revoke", "", "admin", ""},
		{"POST", "/admin/credentials", "", "", `{"principal_id":`},
		{"GET", "/admin/openapi.json", "", "", ""},
	} {
		f.Add(s.method, s.path, s.query, s.auth, []byte(s.body))
	}
	api, err := adminapi.New(adminapi.Deps{Bearer: adminCaller{}, Authz: core.NewAuthorizer(nil), MaxBody: 1024},
		adminapi.Objects{Ops: noObjects{}}.AdminRoutes())
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	f.Fuzz(func(t *testing.T, method, path, query, auth string, body []byte) {
		u := &url.URL{Scheme: "http", Host: "authgate.test", Path: "/admin/" + strings.TrimPrefix(path, "/admin/"), RawQuery: query}
		req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s: %d %s", method, u.Path, query, w.Code, w.Body)
		}
		if auth == "" && w.Code < 300 && u.Path != adminapi.RouteOpenAPI {
			t.Fatalf("%s %s without a token: %d", method, u.Path, w.Code)
		}
		if w.Code >= 400 && w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed || w.Header().Get("Content-Type") == "application/json" && w.Code >= 400 {
			var e httpapi.AdminError
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code == "" {
				t.Fatalf("%s %s: %d not in the admin error shape: %s", method, u.Path, w.Code, w.Body)
			}
		}
	})
}
