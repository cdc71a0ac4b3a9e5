package apstrata_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// An account not subscribed to the token service's API resource is
// refused in the Apstrata envelope, naming the resource; once subscribed
// (under a plan) it is served, and the plan's rate answers 429.
func TestSubscriptionRequired(t *testing.T) {
	var subs *subscription.Service
	e := agtest.Start(t, agtest.Options{ManualClock: start, TLS: true}, func(svc core.Services) []httpapi.Module {
		subs = subscription.New(subscription.DefaultConfig(), svc.Store, svc.Clock, svc.Audit)
		d := apstrata.DepsFrom(svc, httpapi.ClientAddr{})
		d.Access = subs
		return []httpapi.Module{apstrata.New(apstrata.DefaultConfig(), d)}
	})
	ctx := context.Background()
	acct, err := apstrata.CreateAccount(ctx, e.Svc, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apstrata.CreateMember(ctx, e.Svc, acct.AuthKey, "dev-01", "pw", true); err != nil {
		t.Fatal(err)
	}
	admin := subscription.Actor{}
	if _, err := subs.CreateResource(ctx, admin, subscription.Resource{Name: "apstrata-tokens", PathPrefixes: []string{"/apsdb/rest"}, Schemes: []string{"apstrata"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.CreatePlan(ctx, admin, subscription.Plan{Name: "small", Rate: 2, RatePeriod: subscription.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	dev := &sdk.Client{ServiceURL: e.URL + "/apsdb/rest", AuthKey: acct.AuthKey, User: "dev-01", Password: "pw", HTTP: e.Srv.Client(), Now: e.Clock.Now}

	r, err := dev.Call(ctx, http.MethodPost, "GenerateToken", nil)
	if err == nil || r.StatusCode != http.StatusForbidden || r.ErrorCode != apstrata.CodeInvalidRequest || !strings.Contains(r.ErrorDetail, "apstrata-tokens") {
		t.Fatalf("unsubscribed account: %+v %v", r, err)
	}
	if _, err := subs.Subscribe(ctx, admin, subscription.Subscription{OrgID: acct.OrgID, Resource: "apstrata-tokens", Plan: "small"}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Second) // past the subscription cache bound (1 s)
	for i := 0; i < 2; i++ {
		e.Clock.Advance(time.Second)
		if _, err := dev.Call(ctx, http.MethodPost, "VerifyCredentials", nil); err != nil {
			t.Fatalf("subscribed call %d: %v", i, err)
		}
	}
	e.Clock.Advance(time.Second)
	r, err = dev.Call(ctx, http.MethodPost, "VerifyCredentials", nil)
	if err == nil || r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the plan's rate: %+v %v", r, err)
	}
}
