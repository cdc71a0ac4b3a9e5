package oauth2_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/obstest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// epoch is where ManualClock tests start.
var epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	*agtest.Env
	t   *testing.T
	mod *oauth2.Module
	// probe counts what the services observe (as the composition root does).
	probe *obstest.Probe
}

// backends lists the stores the storage-backed tests run on: SQLite, and
// a fresh PostgreSQL database per test (skipped without a server unless
// the run is the full CI run, see pgtest).
func backends() map[string]func(testing.TB) agtest.Options {
	return map[string]func(testing.TB) agtest.Options{
		"sqlite":   func(testing.TB) agtest.Options { return agtest.Options{} },
		"postgres": func(t testing.TB) agtest.Options { return agtest.Options{PostgresDSN: pgtest.DSN(t)} },
	}
}

// loopbackProxy trusts X-Forwarded-For from the test client, so tests
// can speak from any address (without the header the address is 127.0.0.1).
var loopbackProxy = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

func start(t *testing.T, base agtest.Options, manual bool, tweak func(*oauth2.Config)) *env {
	t.Helper()
	cfg := oauth2.DefaultConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	opt := base
	if manual {
		opt.ManualClock = epoch
	}
	e := &env{t: t}
	e.Env = agtest.Start(t, opt, func(svc core.Services) []httpapi.Module {
		e.probe = obstest.New(svc.Clock)
		svc = e.probe.Observe(svc)
		m, err := oauth2.New(svc, cfg, oauth2.Options{Version: "test", Addr: loopbackProxy})
		if err != nil {
			t.Fatal(err)
		}
		e.mod = m
		return []httpapi.Module{m}
	})
	return e
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.Status, r.Body)
	}
	return m
}

func (e *env) do(method, path string, header map[string]string, body string) resp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func formHeader() map[string]string {
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// passwordGrant gets a token pair for key/secret and fails the test otherwise.
func (e *env) passwordGrant(key, secret string) (access, refresh string) {
	e.t.Helper()
	r := e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}.Encode())
	if r.Status != 200 {
		e.t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	m := r.json(e.t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

func (e *env) refresh(rt string) resp {
	e.t.Helper()
	return e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
}

// createKey creates an access key with the caller's bearer token.
func (e *env) createKey(tok, name string) (key, secret string) {
	e.t.Helper()
	r := e.do("POST", "/accesskeys", with(bearer(tok), "Content-Type", "application/json"), `{"Name":"`+name+`"}`)
	if r.Status != 201 {
		e.t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	m := r.json(e.t)
	return m["Key"].(string), m["Secret"].(string)
}

type oauth2Config = oauth2.Config

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
