package taap_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/sdk/pop"
)

// TestConnectivityNeedsSubscription: TAAP's prerequisite "be subscribed
// to the API resource you are about to request". A client with a valid
// access token and PoP is refused 403 in TAAP's error shape, naming the
// resource, until its organisation subscribes.
func TestConnectivityNeedsSubscription(t *testing.T) {
	var subs *subscription.Service
	cfg := taap.DefaultConfig()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		sc := subscription.DefaultConfig()
		sc.CacheMaxAge = 0
		subs = subscription.New(sc, svc.Store, svc.Clock, svc.Audit)
		d := taap.DepsFrom(svc, httpapi.ClientAddr{})
		d.Access = subs
		return []httpapi.Module{taap.New(cfg, d)}
	})
	ctx := context.Background()
	if _, err := subs.CreateResource(ctx, subscription.Actor{}, subscription.Resource{Name: "iot-connectivity",
		PathPrefixes: []string{"/iot-connectivity/v1"}, Methods: []string{"GET"}, Schemes: []string{"pop"}}); err != nil {
		t.Fatal(err)
	}
	key := testKeys()[0]
	info, err := taap.CreateClient(ctx, env.Svc, taap.ClientSpec{Name: "subscriber " + core.NewID()[:6], PublicKeys: [][]byte{pop.PublicKeyPEM(key)}, Scope: "iot-connectivity"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := taap.AddSIM(ctx, env.Svc, info.OrgID, taap.SIM{ICCID: testICCID, Label: "kit"}); err != nil {
		t.Fatal(err)
	}
	c := &pop.Client{BaseURL: env.URL, ClientID: info.ClientID, ClientSecret: info.ClientSecret, Builder: &pop.Builder{Key: key}}
	tr, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Device(ctx, tr.AccessToken, testICCID)
	var pe *pop.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusForbidden || pe.Code != "access_denied" || pe.Description != `not subscribed to API resource "iot-connectivity"` {
		t.Fatalf("unsubscribed: %v", err)
	}
	if _, err := subs.Subscribe(ctx, subscription.Actor{}, subscription.Subscription{OrgID: info.OrgID, Resource: "iot-connectivity"}); err != nil {
		t.Fatal(err)
	}
	dev, err := c.Device(ctx, tr.AccessToken, testICCID)
	if err != nil || dev["iccid"] != testICCID {
		t.Fatalf("subscribed: %v %v", dev, err)
	}
}
