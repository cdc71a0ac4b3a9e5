package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// composedConfig turns on everything that contributes admin routes: every
// family (M2M without its listeners), the CA, the gateway, the console.
func composedConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Gateway.Enabled = true
	cfg.M2M.Enabled = true
	cfg.CA.Enabled = true
	return cfg
}

// startComposed serves everything buildModules composes on a test server,
// and returns the modules.
func startComposed(t *testing.T) (*agtest.Env, *modules) {
	t.Helper()
	var m *modules
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		rt := &runtime{cfg: composedConfig(t), log: slog.New(slog.DiscardHandler), svc: svc}
		var err error
		if m, err = buildModules(context.Background(), rt); err != nil {
			t.Fatal(err)
		}
		return m.http
	})
	return env, m
}

var pathWildcard = regexp.MustCompile(`\{[^}]+\}`)

// TestAdminOpenAPIMatchesTheServer: the served /admin/openapi.json is
// valid, names every route of the composed admin API, and every operation
// it documents is served: without a token it is a 401 with a Bearer
// challenge (never 404 or 405), so the document and the routes agree in
// both directions.
func TestAdminOpenAPIMatchesTheServer(t *testing.T) {
	env, m := startComposed(t)
	api := m.admin
	resp, err := http.Get(env.URL + adminapi.RouteOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public
			}
			req, _ := http.NewRequest(method, env.URL+pathWildcard.ReplaceAllString(path, "x"), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s %s without a token: %d %q, want 401 with a Bearer challenge", method, path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	var routes []string
	for _, rt := range api.Routes() {
		key := rt.Method + " " + strings.ReplaceAll(rt.Path, "...}", "}")
		routes = append(routes, key)
		if !documented[key] {
			t.Errorf("route %s is not in the document", key)
		}
	}
	if len(routes) != len(documented) {
		t.Errorf("%d routes, %d documented operations", len(routes), len(documented))
	}
	for _, want := range []string{"GET " + adminapi.RouteAudit, "GET " + adminapi.RouteOpenAPI} {
		if !slices.Contains(routes, want) {
			t.Errorf("the composed admin API lacks %s", want)
		}
	}
}

// adminRouteTable is the routes table of docs/admin-api.md as the routes
// of the composed admin API print it, sorted by path and method.
func adminRouteTable(api *adminapi.API) string {
	routes := api.Routes()
	order := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	slices.SortFunc(routes, func(a, b adminapi.Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return order[a.Method] - order[b.Method]
	})
	var b strings.Builder
	b.WriteString("| method | path | action | summary |\n|---|---|---|---|\n")
	for _, rt := range routes {
		action := "public"
		if !rt.Public {
			action = "`" + string(rt.Action) + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", rt.Method, rt.Path, action, strings.ReplaceAll(rt.Summary, "|", "\\|"))
	}
	return b.String()
}

var updateAdminDoc = flag.Bool("update-admin-doc", false, "rewrite the routes table of docs/admin-api.md")

// TestAdminAPIDocumented: docs/admin-api.md's routes table is exactly the
// composed admin API's routes (method, path, action, summary): a route
// missing from the document, or a documented one that does not exist,
// fails (-update-admin-doc rewrites the table).
func TestAdminAPIDocumented(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	rt := &runtime{cfg: composedConfig(t), log: slog.New(slog.DiscardHandler), svc: svc}
	m, err := buildModules(context.Background(), rt)
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/admin-api.md"
	const begin, end = "<!-- admin-routes:begin -->\n", "<!-- admin-routes:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, begin, end)
	}
	want := adminRouteTable(m.admin)
	got := doc[i+len(begin) : j]
	if got == want {
		return
	}
	if *updateAdminDoc {
		if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotRows, wantRows := strings.Split(got, "\n"), strings.Split(want, "\n")
	for _, r := range wantRows {
		if !slices.Contains(gotRows, r) {
			t.Errorf("route not documented (or documented differently): %s", r)
		}
	}
	for _, r := range gotRows {
		if !slices.Contains(wantRows, r) {
			t.Errorf("documented route that does not exist (or differs): %s", r)
		}
	}
	t.Error("docs/admin-api.md's routes table differs from the routes (go test ./internal/cli -run TestAdminAPIDocumented -update-admin-doc)")
}

// TestNoAdminRouteOutsideTheMount: no module but the one admin API serves
// anything under /admin on the main listener: every admin route's path
// (and the paths under it, and generic ones) reaches no other module's
// pattern, whatever the method.
func TestNoAdminRouteOutsideTheMount(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	rt := &runtime{cfg: composedConfig(t), log: slog.New(slog.DiscardHandler), svc: svc}
	m, err := buildModules(context.Background(), rt)
	if err != nil {
		t.Fatal(err)
	}
	others := http.NewServeMux()
	mounted := 0
	for _, mod := range m.http {
		if mod == httpapi.Module(m.admin) {
			mounted++
			continue
		}
		mod.Register(others)
	}
	if mounted != 1 {
		t.Fatalf("the admin API is mounted %d times", mounted)
	}
	probes := []string{"/admin", "/admin/", "/admin/x", "/admin/x/y", "/admin/x/y/z"}
	for _, r := range m.admin.Routes() {
		p := pathWildcard.ReplaceAllString(r.Path, "x")
		probes = append(probes, p, p+"/x", p+"/")
	}
	for _, p := range probes {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			req := httptest.NewRequest(method, p, nil)
			if _, pattern := others.Handler(req); strings.Contains(pattern, "/admin") {
				t.Errorf("%s %s is served by %q outside the admin API", method, p, pattern)
			}
		}
	}
}
