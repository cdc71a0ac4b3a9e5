package subscription_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)

// node is one authgate with the OAuth2 and TPV adapters enforcing subscriptions.
type node struct {
	*agtest.Env
	subs *subscription.Service
}

func startNode(t *testing.T, opt agtest.Options) *node {
	t.Helper()
	n := &node{}
	cfg := subscription.DefaultConfig()
	cfg.CacheMaxAge = 0 // every request sees the database
	n.Env = agtest.Start(t, opt, func(svc core.Services) []httpapi.Module {
		n.subs = subscription.New(cfg, svc.Store, svc.Clock, svc.Audit)
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o.Bearer().SetAccessPolicy(n.subs)
		td := tpv.DepsFrom(svc, httpapi.ClientAddr{})
		td.Access = n.subs
		return []httpapi.Module{o, tpv.New(tpv.DefaultConfig(), td),
			agtest.AdminAPI(t, svc, httpapi.ClientAddr{}, n.subs.AdminRoutes())}
	})
	return n
}

func do(t *testing.T, method, u, token string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func password(t *testing.T, base, key, secret string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("password grant: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// client makes an organisation with an access key and returns its org id and a token.
func client(t *testing.T, n *node, admin string) (orgID, token string) {
	t.Helper()
	st, _, out := do(t, "POST", n.URL+"/accesskeys", admin, map[string]string{"Name": "org " + core.NewID()[:8]})
	if st != http.StatusCreated {
		t.Fatalf("create key: %d %v", st, out)
	}
	key, secret := out["Key"].(string), out["Secret"].(string)
	cred, err := n.Svc.Store.FindCredential(context.Background(), core.CredAccessKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return cred.OrgID, password(t, n.URL, key, secret)
}

// setup defines the device-server and TPV resources over the admin API.
func setup(t *testing.T, n *node, admin string, plan *subscription.Plan) {
	t.Helper()
	for _, r := range []subscription.Resource{
		{Name: "device-server", Description: "device server REST API", PathPrefixes: []string{"/accesskeys", "/identities"}, Schemes: []string{"bearer", "mtls"}},
		{Name: "tpv", Description: "TPV Hub API", PathPrefixes: []string{"/api/v1"}, Schemes: []string{"tpv"}},
	} {
		if st, _, out := do(t, "POST", n.URL+"/admin/subscriptions/resources", admin, r); st != http.StatusCreated {
			t.Fatalf("resource: %d %v", st, out)
		}
	}
	if plan != nil {
		if st, _, out := do(t, "POST", n.URL+"/admin/subscriptions/plans", admin, plan); st != http.StatusCreated {
			t.Fatalf("plan: %d %v", st, out)
		}
	}
}

func subscribe(t *testing.T, n *node, admin, orgID, resource, plan string) {
	t.Helper()
	st, _, out := do(t, "POST", n.URL+"/admin/subscriptions", admin, map[string]string{"org_id": orgID, "resource": resource, "plan": plan})
	if st != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", st, out)
	}
}

// TestUnsubscribedRefused: each family's protected route refuses an
// authenticated but unsubscribed caller in its own error shape, naming the
// resource, and serves it once subscribed. (M2M: internal/protocol/m2m.)
func TestUnsubscribedRefused(t *testing.T) {
	n := startNode(t, agtest.Options{ManualClock: t0})
	admin := password(t, n.URL, n.Admin.Key, n.Admin.Secret)
	setup(t, n, admin, nil)
	ctx := context.Background()

	t.Run("oauth2 bearer", func(t *testing.T) {
		org, tok := client(t, n, admin)
		st, h, out := do(t, "GET", n.URL+"/accesskeys", tok, nil)
		if st != http.StatusForbidden || out["error"] != "insufficient_scope" || !strings.Contains(out["error_description"].(string), `not subscribed to API resource "device-server"`) {
			t.Fatalf("unsubscribed: %d %v", st, out)
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
		subscribe(t, n, admin, org, "device-server", "")
		if st, _, out := do(t, "GET", n.URL+"/accesskeys", tok, nil); st != http.StatusOK {
			t.Fatalf("subscribed: %d %v", st, out)
		}
	})

	t.Run("tpv", func(t *testing.T) {
		brand, err := tpv.CreateBrand(ctx, n.Svc, "", "Brand "+core.NewID()[:8])
		if err != nil {
			t.Fatal(err)
		}
		c := &sdktpv.Client{BaseURL: n.URL, AppToken: brand.ApplicationToken, AppSecret: brand.AppSecret, Now: n.Clock.Now}
		if _, err := c.Login(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = c.Products(ctx)
		var te *sdktpv.Error
		if !errors.As(err, &te) || te.Status != http.StatusForbidden || te.Message != `not subscribed to API resource "tpv"` {
			t.Fatalf("unsubscribed: %v", err)
		}
		subscribe(t, n, admin, brand.OrgID, "tpv", "")
		if _, err := c.Products(ctx); err != nil {
			t.Fatalf("subscribed: %v", err)
		}
	})

	t.Run("scheme not accepted", func(t *testing.T) {
		// A TPV brand subscribed to device-server still may not call it with a TPV token.
		res, err := n.subs.ListResources(ctx)
		if err != nil || len(res) != 2 {
			t.Fatal(res, err)
		}
		err = n.subs.Allow(ctx, core.Access{OrgID: "x", Method: "GET", Path: "/accesskeys/abc", Scheme: "tpv"})
		if core.KindOf(err) != core.KindForbidden || !strings.Contains(core.ReasonOf(err), "does not accept tpv") {
			t.Fatal(err)
		}
	})

	t.Run("admin API needs an admin", func(t *testing.T) {
		_, tok := client(t, n, admin)
		if st, _, _ := do(t, "GET", n.URL+"/admin/subscriptions/resources", tok, nil); st != http.StatusForbidden {
			t.Fatalf("non-admin: %d", st)
		}
		if st, h, _ := do(t, "GET", n.URL+"/admin/subscriptions/resources", "", nil); st != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("anonymous: %d", st)
		}
	})
}

// TestScopeLimitsResources: a token whose scope names API resources may use only those.
func TestScopeLimitsResources(t *testing.T) {
	n := startNode(t, agtest.Options{ManualClock: t0})
	admin := password(t, n.URL, n.Admin.Key, n.Admin.Secret)
	setup(t, n, admin, nil)
	ctx := context.Background()
	org, _ := client(t, n, admin)
	subscribe(t, n, admin, org, "device-server", "")
	subscribe(t, n, admin, org, "tpv", "")
	a := core.Access{OrgID: org, Method: "GET", Path: "/accesskeys", Scheme: "bearer"}
	for _, tc := range []struct {
		scope string
		ok    bool
	}{{"", true}, {"device-server", true}, {"tpv device-server", true}, {"tpv", false}, {"unrelated", true}} {
		a.Scope = tc.scope
		if err := n.subs.Allow(ctx, a); (err == nil) != tc.ok {
			t.Errorf("scope %q: %v", tc.scope, err)
		}
	}
	got, err := n.subs.SubscribedResources(ctx, org, "")
	if err != nil || strings.Join(got, " ") != "device-server tpv" {
		t.Fatal(got, err)
	}
}

// TestLimitsAcrossNodesPostgres runs two nodes on one PostgreSQL database
// with one master key: concurrent requests on both admit exactly the
// plan's rate per window and its quota per period, not twice them.
func TestLimitsAcrossNodesPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: t0})
	b := startNode(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: t0})
	admin := password(t, a.URL, a.Admin.Key, a.Admin.Secret)
	const rate, quota = 7, 12
	setup(t, a, admin, &subscription.Plan{Name: "small", Rate: rate, RatePeriod: subscription.Duration(time.Minute),
		Quota: quota, QuotaPeriod: subscription.Duration(24 * time.Hour)})
	org, tok := client(t, a, admin)
	subscribe(t, b, admin, org, "device-server", "small")

	burst := func(n int) (ok, limited int, last map[string]any, hdr http.Header) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := a.URL
				if i%2 == 1 {
					base = b.URL
				}
				st, h, out := do(t, "GET", base+"/accesskeys", tok, nil)
				mu.Lock()
				defer mu.Unlock()
				switch st {
				case http.StatusOK:
					ok++
				case http.StatusTooManyRequests:
					limited++
					last, hdr = out, h
				default:
					t.Errorf("status %d %v", st, out)
				}
			}()
		}
		wg.Wait()
		return
	}
	// Window 1: 20 concurrent requests over both nodes, exactly `rate` pass.
	ok, limited, out, h := burst(20)
	if ok != rate || limited != 20-rate {
		t.Fatalf("rate window: %d ok, %d limited (want %d ok)", ok, limited, rate)
	}
	if out["error"] != "temporarily_unavailable" || !strings.Contains(out["error_description"].(string), `rate limit of API resource "device-server"`) {
		t.Fatalf("rate error %v", out)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	// Next minute: the rate allows 7 again but only 5 remain of the day's quota.
	a.Clock.Advance(time.Minute)
	b.Clock.Advance(time.Minute)
	ok, limited, out, h = burst(20)
	if ok != quota-rate || limited != 20-(quota-rate) {
		t.Fatalf("quota: %d ok, %d limited (want %d ok)", ok, limited, quota-rate)
	}
	desc, _ := out["error_description"].(string)
	if out["error"] != "quota_exceeded" && !strings.Contains(desc, "rate limit") {
		t.Fatalf("quota error %v", out)
	}
	// A minute later the rate is fresh and only the quota refuses, with its reset time.
	a.Clock.Advance(time.Minute)
	b.Clock.Advance(time.Minute)
	st, h, out := do(t, "GET", b.URL+"/accesskeys", tok, nil)
	reset := time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC)
	if st != http.StatusTooManyRequests || out["error"] != "quota_exceeded" || !strings.Contains(out["error_description"].(string), reset.Format(time.RFC3339)) {
		t.Fatalf("quota: %d %v", st, out)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra != int(reset.Sub(a.Clock.Now())/time.Second) {
		t.Fatalf("Retry-After %q, want seconds until %v", h.Get("Retry-After"), reset)
	}
	// After the reset the next day's quota is available on either node.
	a.Clock.Advance(24 * time.Hour)
	b.Clock.Advance(24 * time.Hour)
	key, secret := admKey(t, a, admin, org)
	tok = password(t, a.URL, key, secret) // the old access token expired meanwhile
	if st, _, out := do(t, "GET", b.URL+"/accesskeys", tok, nil); st != http.StatusOK {
		t.Fatalf("after reset: %d %v", st, out)
	}
}

// admKey makes another access key in org directly (the admin's token has expired too).
func admKey(t *testing.T, n *node, _ string, org string) (string, string) {
	t.Helper()
	ctx := context.Background()
	p, err := n.Svc.CreatePrincipal(ctx, org, core.PrincipalUser, "late-"+core.NewID())
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := n.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org, PrincipalID: p.ID, Kind: core.CredAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	return c.Lookup, secret
}
