package subscription_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestUsage: the usage of a subscription follows the enforcement's
// counters: nothing counted is 0, N admitted requests are N (requests
// the rate refuses are not use), and a window's end resets it.
func TestUsage(t *testing.T) {
	n := startNode(t, agtest.Options{ManualClock: t0})
	admin := password(t, n.URL, n.Admin.Key, n.Admin.Secret)
	plan := &subscription.Plan{Name: "small", Rate: 5, RatePeriod: subscription.Duration(time.Minute), Quota: 8, QuotaPeriod: subscription.Duration(24 * time.Hour)}
	setup(t, n, admin, plan)
	ctx := context.Background()
	org, _ := client(t, n, admin)
	sub, err := n.subs.Subscribe(ctx, subscription.Actor{}, subscription.Subscription{OrgID: org, Resource: "device-server", Plan: "small"})
	if err != nil {
		t.Fatal(err)
	}
	access := core.Access{OrgID: org, Method: "GET", Path: "/accesskeys", Scheme: "bearer"}
	day := time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                  string
		advance               time.Duration
		requests, refused     int
		rate, quota           int64
		rateReset, quotaReset time.Time
	}{
		{name: "no counter", rate: 0, quota: 0, rateReset: t0.Add(time.Minute), quotaReset: day},
		{name: "three admitted", requests: 3, rate: 3, quota: 3, rateReset: t0.Add(time.Minute), quotaReset: day},
		{name: "rate used up", requests: 3, refused: 1, rate: 5, quota: 5, rateReset: t0.Add(time.Minute), quotaReset: day},
		{name: "rate window rolls over", advance: time.Minute, rate: 0, quota: 5, rateReset: t0.Add(2 * time.Minute), quotaReset: day},
		{name: "quota window rolls over", advance: 24 * time.Hour, rate: 0, quota: 0, rateReset: t0.Add(24*time.Hour + 2*time.Minute), quotaReset: day.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.Clock.Advance(tc.advance)
			refused := 0
			for i := 0; i < tc.requests; i++ {
				if err := n.subs.Allow(ctx, access); err != nil {
					refused++
				}
			}
			if refused != tc.refused {
				t.Fatalf("refused %d, want %d", refused, tc.refused)
			}
			u, err := n.subs.Usage(ctx, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.SubscriptionID != sub.ID || u.Plan != "small" || u.Rate == nil || u.Quota == nil {
				t.Fatalf("usage %+v", u)
			}
			want := []subscription.Window{{Used: tc.rate, Limit: 5, Period: plan.RatePeriod, ResetsAt: tc.rateReset},
				{Used: tc.quota, Limit: 8, Period: plan.QuotaPeriod, ResetsAt: tc.quotaReset}}
			if *u.Rate != want[0] || *u.Quota != want[1] {
				t.Fatalf("rate %+v quota %+v, want %+v", *u.Rate, *u.Quota, want)
			}
			list, err := n.subs.ListSubscriptionUsage(ctx, org)
			if err != nil || len(list) != 1 || list[0].ID != sub.ID || *list[0].Usage.Rate != want[0] || *list[0].Usage.Quota != want[1] {
				t.Fatalf("listed %+v, %v", list, err)
			}
		})
	}

	t.Run("no plan, no limits", func(t *testing.T) {
		free, err := n.subs.Subscribe(ctx, subscription.Actor{}, subscription.Subscription{OrgID: org, Resource: "tpv"})
		if err != nil {
			t.Fatal(err)
		}
		if u, err := n.subs.Usage(ctx, free.ID); err != nil || u.Rate != nil || u.Quota != nil {
			t.Fatalf("%+v, %v", u, err)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		if _, err := n.subs.Usage(ctx, "nope"); core.KindOf(err) != core.KindNotFound {
			t.Fatal(err)
		}
	})
}

// TestUsageAdminRoute: GET /admin/subscriptions/{id}/usage and the
// listing report the requests a client made through a protected route.
func TestUsageAdminRoute(t *testing.T) {
	n := startNode(t, agtest.Options{ManualClock: t0})
	admin := password(t, n.URL, n.Admin.Key, n.Admin.Secret)
	setup(t, n, admin, &subscription.Plan{Name: "basic", Rate: 10, Quota: 100})
	org, tok := client(t, n, admin)
	st, _, out := do(t, "POST", n.URL+"/admin/subscriptions", admin, map[string]string{"org_id": org, "resource": "device-server", "plan": "basic"})
	if st != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", st, out)
	}
	id := out["id"].(string)
	for i := 0; i < 4; i++ {
		if st, _, out := do(t, "GET", n.URL+"/accesskeys", tok, nil); st != http.StatusOK {
			t.Fatalf("request %d: %d %v", i, st, out)
		}
	}
	st, _, u := do(t, "GET", n.URL+"/admin/subscriptions/"+id+"/usage", admin, nil)
	rate, _ := u["rate"].(map[string]any)
	quota, _ := u["quota"].(map[string]any)
	if st != http.StatusOK || u["subscription_id"] != id || rate["used"] != 4.0 || rate["limit"] != 10.0 || rate["period"] != "1s" ||
		rate["resets_at"] != "2030-01-02T03:04:01Z" || quota["used"] != 4.0 || quota["limit"] != 100.0 || quota["resets_at"] != "2030-01-03T00:00:00Z" {
		t.Fatalf("usage: %d %v", st, u)
	}
	st, _, l := do(t, "GET", n.URL+"/admin/subscriptions?org="+org, admin, nil)
	items, _ := l["items"].([]any)
	if st != http.StatusOK || len(items) != 1 {
		t.Fatalf("list: %d %v", st, l)
	}
	item := items[0].(map[string]any)
	usage, _ := item["usage"].(map[string]any)
	if item["id"] != id || item["plan"] != "basic" || usage["quota"].(map[string]any)["used"] != 4.0 {
		t.Fatalf("list item %v", item)
	}
}

// TestAttack_Usage: a client may not read usage (its own organisation's
// included: subscriptions.admin is for administrators); an unknown or
// huge id is 404 without echoing it whole.
func TestAttack_Usage(t *testing.T) {
	n := startNode(t, agtest.Options{ManualClock: t0})
	admin := password(t, n.URL, n.Admin.Key, n.Admin.Secret)
	setup(t, n, admin, &subscription.Plan{Name: "basic", Rate: 10})
	org, tok := client(t, n, admin)
	sub, err := n.subs.Subscribe(context.Background(), subscription.Actor{}, subscription.Subscription{OrgID: org, Resource: "device-server", Plan: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("a", 8000)
	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"client reads its own usage", "/admin/subscriptions/" + sub.ID + "/usage", tok, http.StatusForbidden},
		{"client lists its own organisation", "/admin/subscriptions?org=" + org, tok, http.StatusForbidden},
		{"anonymous", "/admin/subscriptions/" + sub.ID + "/usage", "", http.StatusUnauthorized},
		{"unknown id", "/admin/subscriptions/" + core.NewID() + "/usage", admin, http.StatusNotFound},
		{"huge id", "/admin/subscriptions/" + huge + "/usage", admin, http.StatusNotFound},
		{"another kind of object's id", "/admin/subscriptions/basic/usage", admin, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, out := do(t, "GET", n.URL+tc.path, tc.token, nil)
			if st != tc.status {
				t.Fatalf("%d %v, want %d", st, out, tc.status)
			}
			for _, v := range out {
				if s, ok := v.(string); ok && strings.Contains(s, huge) {
					t.Fatalf("answer echoes the huge id: %v", out)
				}
			}
		})
	}
}
