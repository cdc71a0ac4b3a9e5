package cli

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestAdminCheckAgrees: the admin APIs of the CA, the subscriptions,
// TAAP and OAuth2 introspection by bearer decide "admin" by the one core
// check (core.BearerAuth.Admin over core.AdminFor), so for every principal
// kind, and for tokens whose recorded kind or holder no longer matches the
// store, they all admit or all refuse.
func TestAdminCheckAgrees(t *testing.T) {
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		subs := subscription.New(subscription.DefaultConfig(), svc.Store, svc.Clock, svc.Audit)
		return []httpapi.Module{o,
			ca.NewModule(ca.New(ca.DefaultConfig(), ca.DepsFrom(svc)), svc.BearerAuth(), httpapi.ClientAddr{}),
			agtest.AdminAPI(t, svc, httpapi.ClientAddr{}, subs.AdminRoutes()),
			taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{})),
		}
	})
	ctx := context.Background()
	org, err := env.Svc.CreateOrganisation(ctx, "agreement")
	if err != nil {
		t.Fatal(err)
	}
	// token issues an access token for a new principal of kind stored
	// in the store, recording recorded in the token.
	token := func(stored, recorded core.PrincipalKind, disable bool) string {
		t.Helper()
		orgID := org.ID
		if stored == core.PrincipalAdmin {
			orgID = core.SystemOrgID
		}
		p, err := env.Svc.CreatePrincipal(ctx, orgID, stored, string(stored)+"-"+core.NewID()[:8])
		if err != nil {
			t.Fatal(err)
		}
		if disable {
			if err := env.Svc.Store.SetPrincipalDisabled(ctx, p.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		v, _, err := env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: orgID, PrincipalID: p.ID, PrincipalKind: recorded, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	apis := []struct {
		name, method, path, contentType, body string
	}{
		{"ca", "GET", "/ca/certificates", "", ""},
		{"subscriptions", "GET", "/admin/subscriptions/resources", "", ""},
		{"taap", "POST", taap.RouteClients, "application/json", `{}`},
		{"oauth2 introspection", "POST", "/oauth/introspect", "application/x-www-form-urlencoded", url.Values{"token": {"x"}}.Encode()},
	}
	// admitted reports whether api let tok past authentication and the
	// admin check (any answer but 401 and 403).
	admitted := func(api int, tok string) (bool, int) {
		a := apis[api]
		req, err := http.NewRequest(a.method, env.URL+a.path, strings.NewReader(a.body))
		if err != nil {
			t.Fatal(err)
		}
		if a.contentType != "" {
			req.Header.Set("Content-Type", a.contentType)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode != 401 && res.StatusCode != 403, res.StatusCode
	}
	type principal struct {
		name             string
		stored, recorded core.PrincipalKind
		disabled         bool
		admin            bool
	}
	cases := []principal{
		{name: "admin", stored: core.PrincipalAdmin, recorded: core.PrincipalAdmin, admin: true},
		{name: "admin, kind not recorded", stored: core.PrincipalAdmin, admin: true},
		{name: "disabled admin", stored: core.PrincipalAdmin, recorded: core.PrincipalAdmin, disabled: true},
		{name: "user recorded as admin", stored: core.PrincipalUser, recorded: core.PrincipalAdmin},
		{name: "admin recorded as user", stored: core.PrincipalAdmin, recorded: core.PrincipalUser, admin: true},
	}
	for _, k := range []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner} {
		cases = append(cases, principal{name: string(k), stored: k, recorded: k})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(tc.stored, tc.recorded, tc.disabled)
			for i, a := range apis {
				if got, status := admitted(i, tok); got != tc.admin {
					t.Errorf("%s: admitted = %v (HTTP %d), want %v", a.name, got, status, tc.admin)
				}
			}
		})
	}
	t.Run("empty or unknown token", func(t *testing.T) {
		for _, tok := range []string{"", "not-a-token"} {
			for i, a := range apis {
				if got, status := admitted(i, tok); got {
					t.Errorf("%s admitted %q (HTTP %d)", a.name, tok, status)
				}
			}
		}
	})
	t.Run("the rule is the table's", func(t *testing.T) {
		for _, k := range []core.PrincipalKind{core.PrincipalAdmin, core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner} {
			for _, act := range []core.Action{core.ActCARead, core.ActSubscriptionsAdmin, core.ActClientsCreate, core.ActTokensIntrospect} {
				if core.AdminFor(k, act) != (core.Granted(k, act) == core.ReachAll) || core.AdminFor(k, act) != (k == core.PrincipalAdmin) {
					t.Errorf("AdminFor(%s, %s) = %v", k, act, core.AdminFor(k, act))
				}
			}
		}
	})
}
