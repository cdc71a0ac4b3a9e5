package tpv_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/obstest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// outcomes is a core.Observer that keeps the authentication outcomes.
type outcomes struct {
	core.NopObserver
	mu  sync.Mutex
	got []string
}

func (o *outcomes) AuthOutcome(family, scheme string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	result := "ok"
	if err != nil {
		result = core.KindOf(err).String()
	}
	o.got = append(o.got, family+"/"+scheme+"/"+result)
}

// TestBuiltInRoutesObserveTheScheme: a request to a built-in TPV route is
// one observed tpv-signature authentication, success or failure, as a
// gateway request is (the registry observes the scheme it hands over).
func TestBuiltInRoutesObserveTheScheme(t *testing.T) {
	obs := &outcomes{}
	cfg := tpv.DefaultConfig()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		d := tpv.DepsFrom(svc, httpapi.ClientAddr{})
		d.Observer = obs
		return []httpapi.Module{tpv.New(cfg, d)}
	})
	b, err := tpv.CreateBrand(context.Background(), env.Svc, "", "Acme Energy")
	if err != nil {
		t.Fatal(err)
	}
	c := &sdk.Client{BaseURL: env.URL, AppToken: b.ApplicationToken, AppSecret: b.AppSecret, HTTP: env.Srv.Client()}
	if _, err := c.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TestAPI(context.Background(), url.Values{"a": {"1"}}); err != nil {
		t.Fatal(err)
	}
	wrong := &sdk.Client{BaseURL: env.URL, AppToken: b.ApplicationToken, AppSecret: b.AppSecret, HTTP: env.Srv.Client()}
	if _, err := wrong.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	wrong.AppSecret = "not the secret"
	if _, err := wrong.TestAPI(context.Background(), url.Values{"a": {"1"}}); err == nil {
		t.Fatal("a wrong signature passed")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// The logins are observed as their grant (tpv-login, TestLoginOutcomesObserved).
	var checks []string
	for _, o := range obs.got {
		if !strings.HasPrefix(o, "tpv/tpv-login/") {
			checks = append(checks, o)
		}
	}
	want := []string{"tpv/tpv-signature/ok", "tpv/tpv-signature/unauthenticated"}
	if !slices.Equal(checks, want) {
		t.Fatalf("outcomes %v, want %v (one per request)", checks, want)
	}
}

// TestLoginOutcomesObserved: every login (POST /api/v1/auth, the auth
// token's issuance) is one authentication of the tpv family labelled
// tpv-login, on authgate_auth_total and on the dashboard's counters, a
// good and a bad one alike; a login the failed-authentication limiter
// refuses is also one limiter refusal of tpv/tpv-login.
func TestLoginOutcomesObserved(t *testing.T) {
	var probe *obstest.Probe // built on the services' clock
	proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	env := agtest.Start(t, agtest.Options{ManualClock: t0, AuthLimits: core.GuardLimits{Pair: 1, Address: 100, Credential: 100, Window: time.Minute}},
		func(svc core.Services) []httpapi.Module {
			probe = obstest.New(svc.Clock)
			return []httpapi.Module{tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(probe.Observe(svc), proxy))}
		})
	b, err := tpv.CreateBrand(context.Background(), env.Svc, "", "Acme Energy")
	if err != nil {
		t.Fatal(err)
	}
	login := func(token, secret, addr string) func() {
		return func() {
			env.Clock.Advance(time.Second) // a fresh timestamp: each login URL is good once
			req, _ := http.NewRequest(http.MethodPost, sdk.LoginURL(env.URL, token, secret, env.Svc.Clock.Now()), nil)
			req.Header.Set("X-Forwarded-For", addr)
			resp, err := env.Srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	replayed := func() {
		env.Clock.Advance(time.Second)
		u := sdk.LoginURL(env.URL, b.ApplicationToken, b.AppSecret, env.Svc.Clock.Now())
		for range 2 {
			resp, err := env.Srv.Client().Post(u, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	for _, c := range []struct {
		name, want string
		do         func()
	}{
		{"good", "success/ok", login(b.ApplicationToken, b.AppSecret, "198.51.100.1")},
		{"unknown token", "failure/unauthenticated", login("no-such-token", b.AppSecret, "198.51.100.2")},
		{"wrong secret", "failure/unauthenticated", login(b.ApplicationToken, "wrong", "203.0.113.1")},
		{"limited", "failure/rate_limited", login(b.ApplicationToken, "wrong", "203.0.113.1")},
		{"right secret from the limited pair", "failure/rate_limited", login(b.ApplicationToken, b.AppSecret, "203.0.113.1")},
		{"stale timestamp", "failure/invalid_input", func() {
			req, _ := http.NewRequest(http.MethodPost, sdk.LoginURL(env.URL, b.ApplicationToken, b.AppSecret, env.Svc.Clock.Now().Add(-time.Hour)), nil)
			resp, err := env.Srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}},
		{"malformed query", "failure/invalid_input", func() {
			resp, err := env.Srv.Client().Post(env.URL+"/api/v1/auth?token=x", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}},
	} {
		t.Run(c.name, func(t *testing.T) { probe.Once(t, tpv.Family, tpv.GrantLogin, c.want, c.do) })
	}
	// A replayed login URL: the first use succeeds, the second is refused as a replay.
	before := probe.Read(t, tpv.Family, tpv.GrantLogin)
	replayed()
	if d := obstest.Since(before, probe.Read(t, tpv.Family, tpv.GrantLogin)); d.Auth["success/ok"] != 1 || d.Auth["failure/replayed"] != 1 || d.Requests != 2 || d.Denials != 1 {
		t.Errorf("a replayed login: %+v", d)
	}
	probe.Lint(t)
}
