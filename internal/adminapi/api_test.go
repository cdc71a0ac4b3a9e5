package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// mustAPI builds the admin API of routes or fails the test.
func mustAPI(t testing.TB, d adminapi.Deps, routes ...[]adminapi.Route) *adminapi.API {
	t.Helper()
	a, err := adminapi.New(d, routes...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type echo struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

// testRoutes exercise the mount: an admin-only read, a create that owners
// may call, a delete answering nothing, a raw answer.
func testRoutes() []adminapi.Route {
	return []adminapi.Route{
		{Method: "GET", Path: "/admin/test/secret", Tag: "Test", Summary: "admin only", Action: core.ActCARead, Result: echo{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return echo{Name: req.Actor().PrincipalID}, nil
			}},
		{Method: "POST", Path: "/admin/test/echo", Tag: "Test", Summary: "echo", Action: core.ActAuditRead, Body: echo{}, Result: echo{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				in := req.Body.(*echo)
				if in.Name == "" {
					return nil, core.E(core.KindInvalidInput, "name is required")
				}
				return echo{Name: in.Name, Count: in.Count + 1}, nil
			}},
		{Method: "DELETE", Path: "/admin/test/things/{id}", Tag: "Test", Summary: "delete", Action: core.ActAuditRead,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				if req.HTTP.PathValue("id") == "missing" {
					return nil, core.E(core.KindNotFound, "no such thing")
				}
				return nil, nil
			}},
		{Method: "GET", Path: "/admin/test/raw/{name...}", Tag: "Test", Summary: "raw", Action: core.ActAuditRead, Raw: true, ResultType: "text/plain",
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				req.W.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(req.W, "raw "+req.HTTP.PathValue("name"))
				return nil, nil
			}},
	}
}

// fakeSessions maps a cookie to a token; unsafe methods need the X-CSRF header "ok".
type fakeSessions map[string]string

func (f fakeSessions) Bearer(r *http.Request) (string, error) {
	c, err := r.Cookie(adminapi.SessionCookie)
	if err != nil {
		return "", nil
	}
	switch r.Method {
	case "GET", "HEAD", "OPTIONS":
	default:
		if r.Header.Get("X-CSRF") != "ok" {
			return "", core.E(core.KindForbidden, "CSRF token missing or wrong")
		}
	}
	tok, ok := f[c.Value]
	if !ok {
		return "", core.E(core.KindUnauthenticated, "session expired")
	}
	return tok, nil
}

type mountEnv struct {
	*agtest.Env
	tokens map[core.PrincipalKind]string
	api    *adminapi.API
}

func startMount(t *testing.T) *mountEnv {
	t.Helper()
	m := &mountEnv{tokens: map[core.PrincipalKind]string{}}
	sessions := fakeSessions{}
	m.Env = agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m.api = mustAPI(t, adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz, Sessions: sessions, MaxBody: 4096}, testRoutes())
		return []httpapi.Module{m.api}
	})
	ctx := context.Background()
	org, err := m.Svc.CreateOrganisation(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []core.PrincipalKind{core.PrincipalAdmin, core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice} {
		o := org.ID
		if kind == core.PrincipalAdmin {
			o = m.Admin.OrgID
		}
		p, err := m.Svc.CreatePrincipal(ctx, o, kind, string(kind)+"-1")
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := m.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: o, PrincipalID: p.ID, PrincipalKind: kind, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		m.tokens[kind] = tok
	}
	sessions["admin-session"] = m.tokens[core.PrincipalAdmin]
	return m
}

type call struct {
	method, path, body, contentType string
	header                          map[string]string
}

func (m *mountEnv) do(t *testing.T, c call) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, _ := http.NewRequest(c.method, m.URL+c.path, body)
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestMount: the mount authenticates, checks the route's action, decodes
// and bounds the body, and answers the result or the admin error shape.
func TestMount(t *testing.T) {
	m := startMount(t)
	admin, owner, user := m.tokens[core.PrincipalAdmin], m.tokens[core.PrincipalOwner], m.tokens[core.PrincipalUser]
	cookie := map[string]string{"Cookie": adminapi.SessionCookie + "=admin-session"}
	cookieCSRF := map[string]string{"Cookie": adminapi.SessionCookie + "=admin-session", "X-CSRF": "ok"}
	for _, tt := range []struct {
		name   string
		call   call
		status int
		code   string // the error code, or a substring of the answer
	}{
		{"no token", call{method: "GET", path: "/admin/test/secret"}, 401, "invalid_token"},
		{"not a bearer header", call{method: "GET", path: "/admin/test/secret", header: map[string]string{"Authorization": "Basic YTpi"}}, 401, "invalid_token"},
		{"malformed bearer", call{method: "GET", path: "/admin/test/secret", header: map[string]string{"Authorization": "Bearer a b"}}, 401, "invalid_token"},
		{"unknown token", call{method: "GET", path: "/admin/test/secret", header: bearer("nope")}, 401, "invalid_token"},
		{"admin", call{method: "GET", path: "/admin/test/secret", header: bearer(admin)}, 200, `"name":"`},
		{"owner on an admin-only route", call{method: "GET", path: "/admin/test/secret", header: bearer(owner)}, 403, "insufficient_scope"},
		{"user on an owner route", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x"}`, header: bearer(user)}, 403, "insufficient_scope"},
		{"device", call{method: "DELETE", path: "/admin/test/things/1", header: bearer(m.tokens[core.PrincipalDevice])}, 403, "insufficient_scope"},
		{"create", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x","count":2}`, header: bearer(owner)}, 201, `{"name":"x","count":3}`},
		{"handler refusal", call{method: "POST", path: "/admin/test/echo", body: `{"count":2}`, header: bearer(owner)}, 400, "name is required"},
		{"bad JSON", call{method: "POST", path: "/admin/test/echo", body: `{"name":`, header: bearer(owner)}, 400, "invalid_request"},
		{"not an object", call{method: "POST", path: "/admin/test/echo", body: `[1]`, header: bearer(owner)}, 400, "invalid_request"},
		{"wrong type", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x","count":"2"}`, header: bearer(owner)}, 400, "count must be of type int"},
		{"unknown field", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x","admin":true}`, header: bearer(owner)}, 400, `unknown field \"admin\"`},
		{"trailing data", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x"}{}`, header: bearer(owner)}, 400, "trailing data"},
		{"empty body", call{method: "POST", path: "/admin/test/echo", header: bearer(owner)}, 400, "invalid_request"},
		{"form body", call{method: "POST", path: "/admin/test/echo", body: `name=x`, contentType: "application/x-www-form-urlencoded", header: bearer(owner)}, 400, "application/json"},
		{"huge body", call{method: "POST", path: "/admin/test/echo", body: `{"name":"` + strings.Repeat("x", 5000) + `"}`, header: bearer(owner)}, 413, "invalid_request"},
		{"delete answers nothing", call{method: "DELETE", path: "/admin/test/things/1", header: bearer(owner)}, 204, ""},
		{"not found", call{method: "DELETE", path: "/admin/test/things/missing", header: bearer(owner)}, 404, "not_found"},
		{"raw", call{method: "GET", path: "/admin/test/raw/a/b", header: bearer(owner)}, 200, "raw a/b"},
		{"session cookie", call{method: "GET", path: "/admin/test/secret", header: cookie}, 200, `"name":"`},
		{"session cookie without CSRF", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x"}`, header: cookie}, 403, "CSRF"},
		{"session cookie with CSRF", call{method: "POST", path: "/admin/test/echo", body: `{"name":"x"}`, header: cookieCSRF}, 201, `"name":"x"`},
		{"forged session cookie", call{method: "GET", path: "/admin/test/secret", header: map[string]string{"Cookie": adminapi.SessionCookie + "=forged"}}, 401, "invalid_token"},
		{"header wins over the cookie", call{method: "GET", path: "/admin/test/secret", header: map[string]string{"Cookie": adminapi.SessionCookie + "=admin-session", "Authorization": "Bearer " + owner}}, 403, "insufficient_scope"},
		{"the document is public", call{method: "GET", path: adminapi.RouteOpenAPI}, 200, `"openapi":"3.0.3"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, h, b := m.do(t, tt.call)
			if st != tt.status || !strings.Contains(string(b), tt.code) {
				t.Fatalf("%d %s, want %d %s", st, b, tt.status, tt.code)
			}
			if st >= 400 {
				var e httpapi.AdminError
				if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || h.Get("Content-Type") != "application/json" {
					t.Fatalf("not the admin error shape: %s (%v)", b, err)
				}
			}
			if st == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("401 without a Bearer challenge: %q", h.Get("WWW-Authenticate"))
			}
		})
	}
	// Every refusal of a caller is audited under protocol admin, even one without a token.
	ctx := context.Background()
	for _, action := range []string{core.AuditAuthFailure, core.AuditForbidden} {
		ev, err := m.Svc.Audit.List(ctx, core.AuditFilter{Action: action, Protocol: adminapi.Protocol})
		if err != nil || len(ev) == 0 {
			t.Errorf("no %s audited under protocol admin (%v)", action, err)
		}
	}
}

// TestNewRefusesMalformedRoutes: a route the mount or the document could
// not serve as declared is a build error, not a panic or a silent skip.
func TestNewRefusesMalformedRoutes(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	d := adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz}
	ok := func(context.Context, *adminapi.Request) (any, error) { return nil, nil }
	good := adminapi.Route{Method: "GET", Path: "/admin/x/{id}", Tag: "X", Summary: "x", Action: core.ActAuditRead, Handle: ok}
	for _, tt := range []struct {
		name   string
		mutate func(r *adminapi.Route)
		extra  []adminapi.Route
	}{
		{"twice", nil, []adminapi.Route{good}},
		{"twice under another wildcard name", nil, []adminapi.Route{{Method: "GET", Path: "/admin/x/{name}", Tag: "X", Summary: "x", Action: core.ActAuditRead, Handle: ok}}},
		{"the document's own path", func(r *adminapi.Route) { r.Path = adminapi.RouteOpenAPI }, nil},
		{"outside /admin", func(r *adminapi.Route) { r.Path = "/ca/x" }, nil},
		{"trailing slash", func(r *adminapi.Route) { r.Path = "/admin/x/" }, nil},
		{"bad wildcard", func(r *adminapi.Route) { r.Path = "/admin/x/{a-b}" }, nil},
		{"method", func(r *adminapi.Route) { r.Method = "TRACE" }, nil},
		{"unknown action", func(r *adminapi.Route) { r.Action = "nothing.at.all" }, nil},
		{"no action", func(r *adminapi.Route) { r.Action = "" }, nil},
		{"no handler", func(r *adminapi.Route) { r.Handle = nil }, nil},
		{"no summary", func(r *adminapi.Route) { r.Summary = "" }, nil},
		{"body on GET", func(r *adminapi.Route) { r.Body = echo{} }, nil},
		{"body not a struct", func(r *adminapi.Route) { r.Method, r.Body = "POST", "x" }, nil},
		{"raw without a type", func(r *adminapi.Route) { r.Raw = true }, nil},
		{"query without a type", func(r *adminapi.Route) { r.Query = []adminapi.Param{{Name: "q", Description: "d"}} }, nil},
		{"status", func(r *adminapi.Route) { r.Status = 302 }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			if tt.mutate != nil {
				tt.mutate(&r)
			}
			if _, err := adminapi.New(d, []adminapi.Route{r}, tt.extra); err == nil {
				t.Fatal("built")
			}
		})
	}
	if _, err := adminapi.New(d, []adminapi.Route{good}); err != nil {
		t.Fatalf("a good route refused: %v", err)
	}
}

// TestOpenAPIValidates: the served document loads and passes
// kin-openapi's own validation; every route is an operation with its
// action, path parameters and schemas.
func TestOpenAPIValidates(t *testing.T) {
	m := startMount(t)
	st, _, b := m.do(t, call{method: "GET", path: adminapi.RouteOpenAPI})
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid: %v", err)
	}
	for _, rt := range m.api.Routes() {
		path := strings.ReplaceAll(rt.Path, "...}", "}")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Fatalf("%s %s is not in the document", rt.Method, path)
		}
		op := item.GetOperation(rt.Method)
		if !rt.Public && op.Extensions["x-action"] != string(rt.Action) {
			t.Errorf("%s %s: x-action %v, want %s", rt.Method, path, op.Extensions["x-action"], rt.Action)
		}
		if rt.Public != (op.Security != nil && len(*op.Security) == 0) {
			t.Errorf("%s %s: public %v but security %v", rt.Method, path, rt.Public, op.Security)
		}
	}
	del := doc.Paths.Value("/admin/test/things/{id}").Delete
	if p := del.Parameters.GetByInAndName("path", "id"); p == nil || !p.Required {
		t.Fatal("the {id} wildcard is not a required path parameter")
	}
	if del.Responses.Value("204") == nil {
		t.Fatal("a route without a result does not document 204")
	}
	post := doc.Paths.Value("/admin/test/echo").Post
	body := post.RequestBody.Value.Content.Get("application/json").Schema.Value
	if body.Properties["name"] == nil || body.Properties["count"] == nil || post.Responses.Value("201") == nil {
		t.Fatalf("echo schema: %+v", body.Properties)
	}
	if doc.Components.SecuritySchemes[adminapi.SchemeBearer] == nil || doc.Components.SecuritySchemes[adminapi.SchemeCookie] == nil {
		t.Fatal("security schemes missing")
	}
}
