package subscription

import (
	"context"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Window is a subscription's use of one limit in the current window.
type Window struct {
	// Used counts the requests admitted in the window (at most Limit:
	// refused requests are not use).
	Used     int64     `json:"used"`
	Limit    int64     `json:"limit"`
	Period   Duration  `json:"period"`
	ResetsAt time.Time `json:"resets_at"` // the window's end
}

// Usage is a subscription's use of its plan's rate and quota now, read
// from the counters the enforcement takes (a limit the plan does not have
// is absent; a subscription without a plan, or whose plan no longer
// exists, has neither).
type Usage struct {
	SubscriptionID string    `json:"subscription_id"`
	Plan           string    `json:"plan,omitempty"`
	At             time.Time `json:"at"`
	Rate           *Window   `json:"rate,omitempty"`
	Quota          *Window   `json:"quota,omitempty"`
}

// SubscriptionUsage is a subscription with its usage (the admin listing).
type SubscriptionUsage struct {
	Subscription
	Usage Usage `json:"usage"`
}

func rateKey(id string) string  { return "sub:rate:" + id }
func quotaKey(id string) string { return "sub:quota:" + id }

// Usage reports the current rate and quota windows of subscription id
// (KindNotFound if there is none).
func (s *Service) Usage(ctx context.Context, id string) (Usage, error) {
	sub, err := s.GetSubscription(ctx, id)
	if err != nil {
		return Usage{}, err
	}
	plans, err := s.ListPlans(ctx)
	if err != nil {
		return Usage{}, err
	}
	out, err := s.usages(ctx, []Subscription{sub}, plans)
	if err != nil {
		return Usage{}, err
	}
	return out[0].Usage, nil
}

// ListSubscriptionUsage lists the subscriptions of orgID ("" for all)
// with their usage: one plan listing and one batched counter read
// (CounterValues), not a round trip per row.
func (s *Service) ListSubscriptionUsage(ctx context.Context, orgID string) ([]SubscriptionUsage, error) {
	subs, err := s.ListSubscriptions(ctx, orgID)
	if err != nil {
		return nil, err
	}
	plans, err := s.ListPlans(ctx)
	if err != nil {
		return nil, err
	}
	return s.usages(ctx, subs, plans)
}

// usages reads the stored counters (never this node's caches: another
// node's requests count, and the refuse-locally map only ever refuses)
// for the windows the enforcement uses now.
func (s *Service) usages(ctx context.Context, subs []Subscription, plans []Plan) ([]SubscriptionUsage, error) {
	now := s.clock.Now()
	byName := make(map[string]*Plan, len(plans))
	for i := range plans {
		byName[plans[i].Name] = &plans[i]
	}
	out := make([]SubscriptionUsage, len(subs))
	var refs []core.CounterRef
	var wins []*Window
	add := func(key string, max int64, period Duration) *Window {
		w := &Window{Limit: max, Period: period, ResetsAt: windowEnd(now, time.Duration(period))}
		refs, wins = append(refs, core.CounterRef{Key: key, WindowEnd: w.ResetsAt}), append(wins, w)
		return w
	}
	for i, sub := range subs {
		u := Usage{SubscriptionID: sub.ID, Plan: sub.Plan, At: now.UTC()}
		if p := byName[sub.Plan]; p != nil {
			if p.Rate > 0 {
				u.Rate = add(rateKey(sub.ID), p.Rate, p.RatePeriod)
			}
			if p.Quota > 0 {
				u.Quota = add(quotaKey(sub.ID), p.Quota, p.QuotaPeriod)
			}
		}
		out[i] = SubscriptionUsage{Subscription: sub, Usage: u}
	}
	if len(refs) > 0 {
		vals, err := s.store.CounterValues(ctx, refs)
		if err != nil {
			return nil, err
		}
		for i, w := range wins {
			w.Used = min(vals[i], w.Limit)
		}
	}
	return out, nil
}
