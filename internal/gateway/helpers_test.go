package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)

// tokenScheme is a hand-built scheme for the route table's tests: the
// credential is a token in header hdr, looked up in callers. It refuses
// in a recognisable shape of its own (WWW-Authenticate: <name>).
type tokenScheme struct {
	name, hdr string
	callers   map[string]scheme.Caller
	body      bool // signs the body: the token must equal the body's first line
}

var _ scheme.Scheme = (*tokenScheme)(nil)

func (s *tokenScheme) Name() string                   { return s.name }
func (s *tokenScheme) Family() string                 { return "test" }
func (s *tokenScheme) Presented(r *http.Request) bool { return r.Header.Get(s.hdr) != "" }
func (s *tokenScheme) NeedsBody(r *http.Request) bool { return s.body && r.Method != http.MethodGet }

func (s *tokenScheme) Authenticate(_ context.Context, req scheme.Request) (scheme.Caller, error) {
	c, ok := s.callers[req.HTTP.Header.Get(s.hdr)]
	if !ok {
		return scheme.Caller{}, core.E(core.KindUnauthenticated, "unknown token")
	}
	if s.NeedsBody(req.HTTP) {
		if !req.BodyKnown {
			return scheme.Caller{}, scheme.BodyUnavailable()
		}
		if !strings.HasPrefix(string(req.Body), req.HTTP.Header.Get(s.hdr)) {
			return scheme.Caller{}, core.E(core.KindUnauthenticated, "body signature mismatch")
		}
	}
	c.Scheme, c.Family = s.name, "test"
	return c, nil
}

func (s *tokenScheme) WriteRefusal(w http.ResponseWriter, _ *http.Request, err error) {
	status := http.StatusUnauthorized
	switch core.KindOf(err) {
	case core.KindForbidden:
		status = http.StatusForbidden
	case core.KindRateLimited, core.KindQuotaExceeded:
		status = http.StatusTooManyRequests
		httpapi.SetRetryAfter(w, err)
	case core.KindInvalidInput:
		status = http.StatusBadRequest
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", s.name)
	}
	httpapi.WriteJSON(w, status, map[string]string{"scheme": s.name, "error": core.ReasonOf(err)})
}

func (s *tokenScheme) StripCredentials(out *http.Request, body []byte) []byte {
	out.Header.Del(s.hdr)
	return body
}

// fixture is a gateway over a SQLite store with the real privilege check
// and subscription service, and two hand-built schemes.
type fixture struct {
	svc   core.Services
	clock *core.ManualClock
	subs  *subscription.Service
	gw    *gateway.Gateway
	a, b  *tokenScheme
}

func alice() scheme.Caller {
	return scheme.Caller{OrgID: "org-a", PrincipalID: "p-alice", Kind: core.PrincipalUser, Subject: "alice", Scope: "read write", CredentialID: "tok-a"}
}

func bob() scheme.Caller {
	return scheme.Caller{OrgID: "org-b", PrincipalID: "p-bob", Kind: core.PrincipalOwner, Subject: "bob", CredentialID: "tok-b"}
}

func newFixture(t *testing.T, routes ...gateway.Route) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, routes...)
}

// newFixtureWith lets change adjust the gateway's dependencies.
func newFixtureWith(t *testing.T, change func(d *gateway.Deps), routes ...gateway.Route) *fixture {
	t.Helper()
	return newFixtureConfig(t, nil, change, routes...)
}

// newFixtureConfig lets configure adjust the gateway section too.
func newFixtureConfig(t *testing.T, configure func(c *gateway.Config), change func(d *gateway.Deps), routes ...gateway.Route) *fixture {
	t.Helper()
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	f := &fixture{svc: svc, clock: clock}
	ctx := context.Background()
	for _, c := range []scheme.Caller{alice(), bob()} {
		if err := svc.Store.CreateOrganisation(ctx, core.Organisation{ID: c.OrgID, Name: c.OrgID, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Store.CreatePrincipal(ctx, core.Principal{ID: c.PrincipalID, OrgID: c.OrgID, Kind: c.Kind, Name: c.Subject, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	callers := map[string]scheme.Caller{"alice": alice(), "bob": bob(), "nokind": {OrgID: "org-a", PrincipalID: "p-x", Subject: "x"}}
	f.a = &tokenScheme{name: "oauth2-bearer", hdr: "X-Test-Bearer", callers: callers}
	f.b = &tokenScheme{name: "tpv-signature", hdr: "X-Test-Sig", callers: callers, body: true}
	scfg := subscription.DefaultConfig()
	scfg.CacheMaxAge = 0
	f.subs = subscription.New(scfg, svc.Store, clock, svc.Audit)
	cfg := gateway.DefaultConfig()
	cfg.Enabled = true
	cfg.Routes = routes
	if configure != nil {
		configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set := scheme.Set{}
	set.Add(f.a)
	set.Add(f.b)
	deps := gateway.Deps{Schemes: set, Authz: svc.Authz, Policy: f.subs, Docs: svc.Store, Seal: svc.Keys,
		Clock: clock, Audit: svc.Audit, Log: svc.Log, Issuer: func(*http.Request) string { return "https://authgate.test" }, Routes: svc.Store}
	if change != nil {
		change(&deps)
	}
	gw, err := gateway.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	return f
}

func route(name, prefix string, schemes ...string) gateway.Route {
	if len(schemes) == 0 {
		schemes = []string{"oauth2-bearer"}
	}
	return gateway.Route{Name: name, PathPrefix: prefix, Schemes: schemes, Upstreams: []string{"http://127.0.0.1:1"}}
}

// request builds an incoming request for Decide.
func request(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func (f *fixture) decide(t *testing.T, r *http.Request) (gateway.Decision, error) {
	t.Helper()
	return f.gw.Decide(context.Background(), scheme.Request{HTTP: r, BodyKnown: true})
}
