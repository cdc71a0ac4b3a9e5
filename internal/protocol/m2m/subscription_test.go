package m2m_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/subscription"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestSubscriptionEnforced: a partner with a valid signature and
// M2MApiKey but no subscription to the operation's API resource gets a
// signed SOAP Fault naming the resource; subscribed, it is served until
// its plan's rate is used up, then faulted with RateLimitExceeded.
func TestSubscriptionEnforced(t *testing.T) {
	var subs *subscription.Service
	w := newWorld(t, worldOptions{access: func(svc core.Services) interface {
		Allow(ctx context.Context, a core.Access) error
	} {
		cfg := subscription.DefaultConfig()
		cfg.CacheMaxAge = 0
		subs = subscription.New(cfg, svc.Store, svc.Clock, svc.Audit)
		return subs
	}})
	ctx := context.Background()
	who := subscription.Actor{}
	if _, err := subs.CreateResource(ctx, who, subscription.Resource{Name: "m2m-monitoring", PathPrefixes: []string{"/M2MMon"}, Schemes: []string{"wss"}}); err != nil {
		t.Fatal(err)
	}
	_, err := w.client.SIMUsageGet(ctx, iccid)
	var f *sdk.Fault
	if !errors.As(err, &f) || f.Code != sdk.FaultClient || f.Detail != sdk.ErrNotAuthorized || f.String != `not subscribed to API resource "m2m-monitoring"` {
		t.Fatalf("unsubscribed: %v", err)
	}
	// The partner's organisation is the SIM document's.
	sims, _, err := w.svc.Store.ListDocuments(ctx, m2m.CollectionSIMs, "", core.Page{Limit: 1})
	if err != nil || len(sims) != 1 {
		t.Fatal(sims, err)
	}
	if _, err := subs.CreatePlan(ctx, who, subscription.Plan{Name: "two-per-hour", Rate: 2, RatePeriod: subscription.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.Subscribe(ctx, who, subscription.Subscription{OrgID: sims[0].OrgID, Resource: "m2m-monitoring", Plan: "two-per-hour"}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := w.client.SIMUsageGet(ctx, iccid); err != nil {
			t.Fatalf("subscribed call %d: %v", i, err)
		}
	}
	_, err = w.client.SIMStateGet(ctx, iccid)
	if !errors.As(err, &f) || f.Code != sdk.FaultClient || f.Detail != "RateLimitExceeded" {
		t.Fatalf("over the rate: %v", err)
	}
}
