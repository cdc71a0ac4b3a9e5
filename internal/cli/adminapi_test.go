package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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

// startComposed serves everything buildModules composes (every family,
// the CA, the gateway) on a test server, and returns the admin API.
func startComposed(t *testing.T) (*agtest.Env, *adminapi.API) {
	t.Helper()
	var api *adminapi.API
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Gateway.Enabled = true
		rt := &runtime{cfg: cfg, log: slog.New(slog.DiscardHandler), svc: svc}
		m, err := buildModules(context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		api = m.admin
		return m.http
	})
	return env, api
}

var pathWildcard = regexp.MustCompile(`\{[^}]+\}`)

// TestAdminOpenAPIMatchesTheServer: the served /admin/openapi.json is
// valid, names every route of the composed admin API, and every operation
// it documents is served: without a token it is a 401 with a Bearer
// challenge (never 404 or 405), so the document and the routes agree in
// both directions.
func TestAdminOpenAPIMatchesTheServer(t *testing.T) {
	env, api := startComposed(t)
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
