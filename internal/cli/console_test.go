package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// consoleEnv is the composed server (every family, the CA, the gateway,
// the admin API and the console) on a loopback HTTPS listener.
type consoleEnv struct {
	*agtest.Env
	client *http.Client
	// probed counts requests to the probe route that carried the session cookie.
	probes, probedWithCookie atomic.Int32
}

// probe is a route of the test server that records whether a request
// carried the console's session cookie (the cross-site form test).
type probe struct{ e *consoleEnv }

func (p probe) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /test-probe", func(w http.ResponseWriter, r *http.Request) {
		p.e.probes.Add(1)
		if _, err := r.Cookie(console.CookieName); err == nil {
			p.e.probedWithCookie.Add(1)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("probed"))
	})
}

func startConsole(t *testing.T, set func(*config.Config)) *consoleEnv {
	t.Helper()
	e := &consoleEnv{}
	e.Env = agtest.Start(t, agtest.Options{TLS: true}, func(svc core.Services) []httpapi.Module {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Gateway.Enabled = true
		if set != nil {
			set(&cfg)
		}
		// The CA's material, as `authgate ca init` makes it.
		if _, err := ca.New(cfg.CA, ca.DepsFrom(svc)).Init(context.Background(), ca.InitOptions{Algorithm: "ecdsa"}); err != nil {
			t.Fatal(err)
		}
		rt := &runtime{cfg: cfg, log: slog.New(slog.DiscardHandler), svc: svc}
		m, err := buildModules(context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		return append(m.http, probe{e})
	})
	e.client = e.Srv.Client()
	return e
}

// do sends one request with optional cookie and headers and returns the
// status and body.
func (e *consoleEnv) do(t *testing.T, method, path, body string, cookie *http.Cookie, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// signIn signs in over plain HTTP and returns the cookie and CSRF token.
func (e *consoleEnv) signIn(t *testing.T, key, secret string) (*http.Cookie, console.SessionInfo) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"access_key": key, "secret": secret})
	req, _ := http.NewRequest("POST", e.URL+console.RouteSession, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info console.SessionInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %v", resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			return c, info
		}
	}
	t.Fatal("no session cookie")
	return nil, info
}

// userKey creates an organisation with a user principal and its access key.
func (e *consoleEnv) userKey(t *testing.T, kind core.PrincipalKind) (org core.Organisation, p core.Principal, key, secret string) {
	t.Helper()
	ctx := context.Background()
	org, err := e.Svc.CreateOrganisation(ctx, "acme-"+string(kind))
	if err != nil {
		t.Fatal(err)
	}
	if p, err = e.Svc.CreatePrincipal(ctx, org.ID, kind, "alice-"+string(kind)); err != nil {
		t.Fatal(err)
	}
	c, secret, err := e.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	return org, p, c.Lookup, secret
}

// TestConsoleDisabled: with console.enabled false there is no /console,
// and the admin API ignores a session cookie.
func TestConsoleDisabled(t *testing.T) {
	on := startConsole(t, nil)
	c, info := on.signIn(t, on.Admin.Key, on.Admin.Secret)
	e := startConsole(t, func(c *config.Config) { c.Console.Enabled = false })
	// The same token, valid on this server's store, in a cookie.
	tok, _, err := e.Svc.Tokens.Issue(context.Background(), core.TokenSpec{Kind: core.TokenAccess, OrgID: e.Admin.OrgID,
		PrincipalID: adminPrincipal(t, e), PrincipalKind: core.PrincipalAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c.Value = tok
	for _, p := range []string{console.RoutePage, console.RouteStatic + "app.js"} {
		if st, _ := e.do(t, "GET", p, "", nil, nil); st != 404 {
			t.Errorf("%s: %d", p, st)
		}
	}
	if st, _ := e.do(t, "POST", console.RouteSession, `{"access_key":"a","secret":"b"}`, nil, nil); st == 200 {
		t.Error("sign-in served with the console off")
	}
	if st, _ := e.do(t, "GET", "/admin/audit", "", c, map[string]string{console.CSRFHeader: info.CSRFToken}); st != 401 {
		t.Errorf("a session cookie authenticated with the console off: %d", st)
	}
}

func adminPrincipal(t *testing.T, e *consoleEnv) string {
	t.Helper()
	c, err := e.Svc.Credentials.Find(context.Background(), core.CredAccessKey, e.Admin.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c.PrincipalID
}

// TestConsoleMounted: the composed server serves the console, and a
// session authenticates the admin API's reads by its cookie.
func TestConsoleMounted(t *testing.T) {
	e := startConsole(t, nil)
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	if !slices.Contains(info.Routes, "GET /admin/audit") || info.ReadOnly {
		t.Fatalf("session info %+v", info)
	}
	if st, b := e.do(t, "GET", "/admin/audit", "", c, nil); st != 200 || !strings.Contains(b, "console sign-in") {
		t.Fatalf("audit read by the session: %d %s", st, b)
	}
	if st, _ := e.do(t, "GET", console.RoutePage, "", nil, nil); st != 200 {
		t.Fatalf("/console: %d", st)
	}
}
