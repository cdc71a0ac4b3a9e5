package tpv_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// startAdmin is start with the admin API mounted on the TPV routes.
func startAdmin(t testing.TB, cfg tpv.Config) *fixture {
	t.Helper()
	env := agtest.Start(t, agtest.Options{ManualClock: t0}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{tpv.New(cfg, tpv.DepsFrom(svc, httpapi.ClientAddr{})), agtest.AdminAPI(t, svc, httpapi.ClientAddr{}, tpv.NewAdmin(svc).AdminRoutes())}
	})
	f := &fixture{env: env, cfg: cfg, clients: map[string]*sdk.Client{}}
	f.brand = f.newBrand(t, "", "Acme Energy")
	f.addProduct(t, f.brand, "555")
	return f
}

// adminCall sends one admin API request with bearer (none when "") and
// returns the status and the decoded JSON answer.
func (f *fixture) adminCall(t testing.TB, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, f.env.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return f.do(t, req)
}

// accessToken issues an OAuth2 access token (what the admin API takes)
// to a new principal of kind in org.
func (f *fixture) accessToken(t testing.TB, org string, kind core.PrincipalKind) (string, core.Principal) {
	t.Helper()
	ctx := context.Background()
	p, err := f.env.Svc.CreatePrincipal(ctx, org, kind, string(kind)+" "+core.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := f.env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID, PrincipalKind: p.Kind, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return v, p
}

func listed(t testing.TB, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// TestAdminRoutesTPV runs the lifecycle of a brand and its products
// through /admin/tpv on a real server with an administrator's token; the
// created brand's credentials log in.
func TestAdminRoutesTPV(t *testing.T) {
	f := startAdmin(t, tpv.DefaultConfig())
	admin, _ := f.accessToken(t, core.SystemOrgID, core.PrincipalAdmin)
	f.env.Clock.Advance(time.Second) // listings are oldest first: the fixture's brand, then this one
	st, b := f.adminCall(t, "POST", tpv.RouteAdminBrands, admin, map[string]any{"name": "Console Brand"})
	if st != 201 || b["secret"] == "" || b["application_token"] == "" || b["brand_id"] == "" || b["name"] != "Console Brand" {
		t.Fatalf("create: %d %v", st, b)
	}
	id := b["brand_id"].(string)
	c := f.client(tpv.BrandCredentials{BrandID: id, ApplicationToken: b["application_token"].(string), AppSecret: b["secret"].(string)})
	if _, err := c.Login(context.Background()); err != nil {
		t.Fatalf("the created brand logs in: %v", err)
	}
	if st, g := f.adminCall(t, "GET", tpv.RouteAdminBrands+"/"+id, admin, nil); st != 200 || g["secret"] != nil || g["application_secret"] != nil || g["disabled"] != false {
		t.Fatalf("get: %d %v", st, g)
	}
	if st, l := f.adminCall(t, "GET", tpv.RouteAdminBrands+"?limit=1&cursor=1", admin, nil); st != 200 || l["total"] != 2.0 || listed(t, l)[0]["brand_id"] != id {
		t.Fatalf("second page: %d %v", st, l)
	}
	products := tpv.RouteAdminBrands + "/" + id + "/products"
	if st, p := f.adminCall(t, "POST", products, admin, map[string]any{"program_code": "FIX-12", "name": "Fixed 12 months"}); st != 201 || p["program_code"] != "FIX-12" {
		t.Fatalf("add product: %d %v", st, p)
	}
	if st, e := f.adminCall(t, "POST", products, admin, map[string]any{"program_code": "FIX-12", "name": "again"}); st != 409 || !strings.Contains(e["error_description"].(string), "program_code must be unique") {
		t.Fatalf("product twice: %d %v", st, e)
	}
	if st, l := f.adminCall(t, "GET", products, admin, nil); st != 200 || l["total"] != 1.0 || listed(t, l)[0]["name"] != "Fixed 12 months" {
		t.Fatalf("products: %d %v", st, l)
	}
	if st, p := f.adminCall(t, "GET", products+"/FIX-12", admin, nil); st != 200 || p["program_code"] != "FIX-12" {
		t.Fatalf("get product: %d %v", st, p)
	}
	if st, d := f.adminCall(t, "DELETE", products+"/FIX-12", admin, nil); st != 200 || d["deleted"] != true {
		t.Fatalf("delete product: %d %v", st, d)
	}
	if st, _ := f.adminCall(t, "GET", products+"/FIX-12", admin, nil); st != 404 {
		t.Fatalf("deleted product: %d", st)
	}
	if st, d := f.adminCall(t, "DELETE", tpv.RouteAdminBrands+"/"+id, admin, nil); st != 200 || d["deleted"] != true || d["tokens_revoked"] != 1.0 {
		t.Fatalf("delete: %d %v", st, d)
	}
	if st, _ := f.adminCall(t, "GET", tpv.RouteAdminBrands+"/"+id, admin, nil); st != 404 {
		t.Fatalf("deleted brand: %d", st)
	}
	evs, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditDelete, Protocol: "tpv", PrincipalID: id})
	if err != nil || len(evs) == 0 || evs[0].Subject != "tpv brand "+id || evs[0].RemoteAddr == "" || evs[0].RequestID == "" || !strings.Contains(evs[0].Reason, "deleted by admin ") {
		t.Fatalf("audit of the deletion: %+v %v", evs, err)
	}
}

// TestAttack_DeletedTPVBrandRefused: once a brand is deleted through the
// admin API, its application token no longer logs in and an auth_token
// it held is refused on signed and unsigned calls; once a product is
// deleted, a submission naming its program code is refused with the TPV
// API's own message, as for any code the brand does not have.
func TestAttack_DeletedTPVBrandRefused(t *testing.T) {
	cfg := tpv.DefaultConfig()
	cfg.SignatureOptional = []string{tpv.RouteTestAPI}
	f := startAdmin(t, cfg)
	admin, _ := f.accessToken(t, core.SystemOrgID, core.PrincipalAdmin)
	ctx := context.Background()
	c := f.client(f.brand)
	tok, err := c.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, json.RawMessage(exampleRecord(t))); err != nil {
		t.Fatalf("before: %v", err)
	}
	if st, d := f.adminCall(t, "DELETE", tpv.RouteAdminBrands+"/"+f.brand.BrandID+"/products/555", admin, nil); st != 200 {
		t.Fatalf("delete product: %d %v", st, d)
	}
	var e *sdk.Error
	if _, err := c.Submit(ctx, json.RawMessage(exampleRecord(t))); !errors.As(err, &e) || e.Status != 400 ||
		e.Message != "products[0].program_code must be the program code of one of the brand's products." {
		t.Fatalf("submission with a deleted product: %v", err)
	}
	unsigned := &sdk.Client{BaseURL: f.env.URL, AppToken: f.brand.ApplicationToken, AppSecret: f.brand.AppSecret, HTTP: f.env.Srv.Client(), Unsigned: true, Now: f.env.Clock.Now}
	unsigned.SetAuthToken(tok, f.now().Add(10*time.Minute))
	if _, err := unsigned.TestAPI(ctx, url.Values{"a": {"1"}}); err != nil {
		t.Fatalf("unsigned before: %v", err)
	}
	if st, d := f.adminCall(t, "DELETE", tpv.RouteAdminBrands+"/"+f.brand.BrandID, admin, nil); st != 200 {
		t.Fatalf("delete brand: %d %v", st, d)
	}
	if _, err := c.TestAPI(ctx, url.Values{"a": {"2"}}); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("signed call with the deleted brand's auth token: %v", err)
	}
	if _, err := unsigned.TestAPI(ctx, url.Values{"a": {"3"}}); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("unsigned call with the deleted brand's auth token: %v", err)
	}
	fresh := &sdk.Client{BaseURL: f.env.URL, AppToken: f.brand.ApplicationToken, AppSecret: f.brand.AppSecret, HTTP: f.env.Srv.Client(), Now: f.env.Clock.Now}
	if _, err := fresh.Login(ctx); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("login with the deleted brand's credentials: %v", err)
	}
}

// TestAttack_AdminTPVOtherOrganisation: an owner reading another
// organisation's brand or its products is answered 404 as for an unknown
// brand, changing them or naming the organisation is refused 403; every
// refusal is audited; its own listing never shows another organisation's
// brands; changes are refused to owners even in their own organisation.
func TestAttack_AdminTPVOtherOrganisation(t *testing.T) {
	f := startAdmin(t, tpv.DefaultConfig())
	other := f.newBrand(t, "", "Other Brand")
	tok, owner := f.accessToken(t, other.OrgID, core.PrincipalOwner)
	id := f.brand.BrandID
	for _, r := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", tpv.RouteAdminBrands + "/" + id, 404, "not_found"},
		{"DELETE", tpv.RouteAdminBrands + "/" + id, 403, "insufficient_scope"},
		{"GET", tpv.RouteAdminBrands + "?org=" + f.brand.OrgID, 403, "insufficient_scope"},
		{"GET", tpv.RouteAdminBrands + "/" + id + "/products", 404, "not_found"},
		{"GET", tpv.RouteAdminBrands + "/" + id + "/products/555", 404, "not_found"},
		{"DELETE", tpv.RouteAdminBrands + "/" + id + "/products/555", 403, "insufficient_scope"},
	} {
		if st, e := f.adminCall(t, r.method, r.path, tok, nil); st != r.status || e["error"] != r.code {
			t.Errorf("%s %s: %d %v", r.method, r.path, st, e)
		}
	}
	evs, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Protocol: "admin", PrincipalID: owner.ID})
	if err != nil || len(evs) == 0 {
		t.Fatalf("refusals not audited: %v", err)
	}
	if st, l := f.adminCall(t, "GET", tpv.RouteAdminBrands, tok, nil); st != 200 || l["total"] != 1.0 || listed(t, l)[0]["brand_id"] != other.BrandID {
		t.Fatalf("owner's own listing: %d %v", st, l)
	}
	mine, _ := f.accessToken(t, f.brand.OrgID, core.PrincipalUser)
	if st, l := f.adminCall(t, "GET", tpv.RouteAdminBrands+"/"+id+"/products", mine, nil); st != 200 || l["total"] != 1.0 {
		t.Fatalf("user's products: %d %v", st, l)
	}
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", tpv.RouteAdminBrands + "/" + id, nil},
		{"POST", tpv.RouteAdminBrands, map[string]any{"org_id": f.brand.OrgID, "name": "Mine"}},
		{"POST", tpv.RouteAdminBrands + "/" + id + "/products", map[string]any{"program_code": "556", "name": "x"}},
		{"DELETE", tpv.RouteAdminBrands + "/" + id + "/products/555", nil},
	} {
		if st, _ := f.adminCall(t, r.method, r.path, mine, r.body); st != 403 {
			t.Errorf("user %s %s: %d", r.method, r.path, st)
		}
	}
}

// TestAttack_AdminTPVOtherCredentials: a TPV auth_token is not an admin
// token, and the brand's own principal's OAuth2 token is refused.
func TestAttack_AdminTPVOtherCredentials(t *testing.T) {
	f := startAdmin(t, tpv.DefaultConfig())
	authToken, err := f.client(f.brand).Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.env.Svc.Store.GetPrincipal(context.Background(), f.brand.BrandID)
	if err != nil {
		t.Fatal(err)
	}
	self, _, err := f.env.Svc.Tokens.Issue(context.Background(), core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID, PrincipalKind: p.Kind, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{tpv.RouteAdminBrands, tpv.RouteAdminBrands + "/" + f.brand.BrandID, tpv.RouteAdminBrands + "/" + f.brand.BrandID + "/products"} {
		if st, e := f.adminCall(t, "GET", path, authToken, nil); st != 401 || e["error"] != "invalid_token" {
			t.Errorf("auth_token on %s: %d %v", path, st, e)
		}
		if st, e := f.adminCall(t, "GET", path, self, nil); st != 403 {
			t.Errorf("the brand's own token on %s: %d %v", path, st, e)
		}
	}
}

// TestAttack_AdminTPVInputs: ids that do not exist are 404 (a principal
// that is not a brand too), malformed program codes 400, huge ids 404, a
// huge body 413, unknown body fields 400.
func TestAttack_AdminTPVInputs(t *testing.T) {
	f := startAdmin(t, tpv.DefaultConfig())
	admin, adm := f.accessToken(t, core.SystemOrgID, core.PrincipalAdmin)
	id := f.brand.BrandID
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", tpv.RouteAdminBrands + "/nope", nil, 404},
		{"DELETE", tpv.RouteAdminBrands + "/" + adm.ID, nil, 404},
		{"GET", tpv.RouteAdminBrands + "/" + strings.Repeat("x", 8000), nil, 404},
		{"GET", tpv.RouteAdminBrands + "/nope/products", nil, 404},
		{"GET", tpv.RouteAdminBrands + "/" + id + "/products/556", nil, 404},
		{"GET", tpv.RouteAdminBrands + "/" + id + "/products/" + strings.Repeat("5", 33), nil, 400},
		{"DELETE", tpv.RouteAdminBrands + "/" + id + "/products/5%2055", nil, 400},
		{"POST", tpv.RouteAdminBrands + "/" + id + "/products", map[string]any{"program_code": "a/b", "name": "x"}, 400},
		{"POST", tpv.RouteAdminBrands + "/" + id + "/products", `{"program_code":"` + strings.Repeat("5", 1<<20) + `"}`, 413},
		{"POST", tpv.RouteAdminBrands, map[string]any{"name": "x", "secret": "chosen"}, 400},
		{"POST", tpv.RouteAdminBrands, map[string]any{"org_id": "nope", "name": "x"}, 404},
		{"GET", tpv.RouteAdminBrands + "?org=a&org=b", nil, 400},
	} {
		if st, e := f.adminCall(t, tc.method, tc.path, admin, tc.body); st != tc.want {
			t.Errorf("%s %.80s: %d %v, want %d", tc.method, tc.path, st, e, tc.want)
		}
	}
}
