package subscription

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/authgate/authgate/internal/core"
)

// Actor says who changes definitions, for the audit log.
type Actor struct {
	OrgID, PrincipalID, RemoteAddr, RequestID string
}

func (s *Service) record(ctx context.Context, who Actor, action, subject, reason string) error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Record(ctx, core.AuditEvent{Action: action, Protocol: "subscription", OrgID: who.OrgID, PrincipalID: who.PrincipalID,
		Subject: subject, Reason: reason, RemoteAddr: who.RemoteAddr, RequestID: who.RequestID})
}

func (s *Service) put(ctx context.Context, coll, id, orgID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return core.Wrap(core.KindInternal, "", err)
	}
	now := s.clock.Now()
	return s.store.PutDocument(ctx, core.Document{Collection: coll, ID: id, OrgID: orgID, Data: data, CreatedAt: now, UpdatedAt: now})
}

func list[T any](ctx context.Context, st Store, coll, orgID string, limit int) ([]T, error) {
	docs, _, err := st.ListDocuments(ctx, coll, orgID, core.Page{Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(docs))
	for _, d := range docs {
		var v T
		if err := json.Unmarshal(d.Data, &v); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateResource adds an API resource; KindConflict if the name is taken.
func (s *Service) CreateResource(ctx context.Context, who Actor, r Resource) (Resource, error) {
	if err := r.normalise(); err != nil {
		return Resource{}, err
	}
	r.CreatedAt = s.clock.Now().UTC()
	if err := s.put(ctx, CollectionResources, r.Name, "", r); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return Resource{}, core.E(core.KindConflict, "resource "+r.Name+" exists")
		}
		return Resource{}, err
	}
	s.Invalidate()
	return r, s.record(ctx, who, core.AuditCreate, "resource "+r.Name, "API resource created")
}

// GetResource returns an API resource.
func (s *Service) GetResource(ctx context.Context, name string) (Resource, error) {
	d, err := s.store.GetDocument(ctx, CollectionResources, name)
	if err != nil {
		return Resource{}, notFound(err, "no resource "+name)
	}
	var r Resource
	if err := json.Unmarshal(d.Data, &r); err != nil {
		return Resource{}, core.Wrap(core.KindInternal, "", err)
	}
	return r, nil
}

// ListResources lists the API resources, sorted by name.
func (s *Service) ListResources(ctx context.Context) ([]Resource, error) {
	out, err := list[Resource](ctx, s.store, CollectionResources, "", maxResources)
	slices.SortFunc(out, func(a, b Resource) int { return compare(a.Name, b.Name) })
	return out, err
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeleteResource removes a resource and every subscription to it.
func (s *Service) DeleteResource(ctx context.Context, who Actor, name string) error {
	if err := s.store.DeleteDocument(ctx, CollectionResources, name); err != nil {
		return notFound(err, "no resource "+name)
	}
	subs, err := s.ListSubscriptions(ctx, "")
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if sub.Resource == name {
			if err := s.store.DeleteDocument(ctx, CollectionSubscriptions, subscriptionDocID(sub.Resource, sub.OrgID, sub.PrincipalID)); err != nil && core.KindOf(err) != core.KindNotFound {
				return err
			}
		}
	}
	s.Invalidate()
	return s.record(ctx, who, core.AuditDelete, "resource "+name, "API resource and its subscriptions deleted")
}

func notFound(err error, reason string) error {
	if core.KindOf(err) == core.KindNotFound {
		return core.E(core.KindNotFound, reason)
	}
	return err
}

// CreatePlan adds a plan; KindConflict if the name is taken.
func (s *Service) CreatePlan(ctx context.Context, who Actor, p Plan) (Plan, error) {
	if err := p.normalise(); err != nil {
		return Plan{}, err
	}
	p.CreatedAt = s.clock.Now().UTC()
	if err := s.put(ctx, CollectionPlans, p.Name, "", p); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return Plan{}, core.E(core.KindConflict, "plan "+p.Name+" exists")
		}
		return Plan{}, err
	}
	s.Invalidate()
	return p, s.record(ctx, who, core.AuditCreate, "plan "+p.Name, "plan created")
}

// GetPlan returns a plan.
func (s *Service) GetPlan(ctx context.Context, name string) (Plan, error) {
	d, err := s.store.GetDocument(ctx, CollectionPlans, name)
	if err != nil {
		return Plan{}, notFound(err, "no plan "+name)
	}
	var p Plan
	if err := json.Unmarshal(d.Data, &p); err != nil {
		return Plan{}, core.Wrap(core.KindInternal, "", err)
	}
	return p, nil
}

// ListPlans lists the plans, sorted by name.
func (s *Service) ListPlans(ctx context.Context) ([]Plan, error) {
	out, err := list[Plan](ctx, s.store, CollectionPlans, "", maxResources)
	slices.SortFunc(out, func(a, b Plan) int { return compare(a.Name, b.Name) })
	return out, err
}

// DeletePlan removes a plan no subscription uses (KindConflict otherwise).
func (s *Service) DeletePlan(ctx context.Context, who Actor, name string) error {
	subs, err := s.ListSubscriptions(ctx, "")
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if sub.Plan == name {
			return core.E(core.KindConflict, "plan "+name+" is used by subscription "+sub.ID)
		}
	}
	if err := s.store.DeleteDocument(ctx, CollectionPlans, name); err != nil {
		return notFound(err, "no plan "+name)
	}
	s.Invalidate()
	return s.record(ctx, who, core.AuditDelete, "plan "+name, "plan deleted")
}

// Subscribe subscribes an organisation, or one principal of it, to a
// resource under plan ("" for unlimited). One subscription per subject
// and resource: KindConflict if it exists.
func (s *Service) Subscribe(ctx context.Context, who Actor, sub Subscription) (Subscription, error) {
	if sub.OrgID == "" || sub.Resource == "" {
		return Subscription{}, core.E(core.KindInvalidInput, "a subscription needs an organisation and a resource")
	}
	if _, err := s.store.GetOrganisation(ctx, sub.OrgID); err != nil {
		return Subscription{}, notFound(err, "no organisation "+sub.OrgID)
	}
	if sub.PrincipalID != "" {
		p, err := s.store.GetPrincipal(ctx, sub.PrincipalID)
		if err != nil {
			return Subscription{}, notFound(err, "no principal "+sub.PrincipalID)
		}
		if p.OrgID != sub.OrgID {
			return Subscription{}, core.E(core.KindInvalidInput, "principal "+sub.PrincipalID+" is not in organisation "+sub.OrgID)
		}
	}
	if _, err := s.store.GetDocument(ctx, CollectionResources, sub.Resource); err != nil {
		return Subscription{}, notFound(err, "no resource "+sub.Resource)
	}
	if sub.Plan != "" {
		if _, err := s.GetPlan(ctx, sub.Plan); err != nil {
			return Subscription{}, err
		}
	}
	sub.ID = core.NewID()
	sub.CreatedAt = s.clock.Now().UTC()
	if err := s.put(ctx, CollectionSubscriptions, subscriptionDocID(sub.Resource, sub.OrgID, sub.PrincipalID), sub.OrgID, sub); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return Subscription{}, core.E(core.KindConflict, "already subscribed to "+sub.Resource)
		}
		return Subscription{}, err
	}
	s.Invalidate()
	return sub, s.record(ctx, who, core.AuditCreate, "subscription "+sub.ID,
		"org "+sub.OrgID+" principal "+sub.PrincipalID+" subscribed to "+sub.Resource+" plan "+sub.Plan)
}

// ListSubscriptions lists subscriptions of an organisation ("" for all).
func (s *Service) ListSubscriptions(ctx context.Context, orgID string) ([]Subscription, error) {
	return list[Subscription](ctx, s.store, CollectionSubscriptions, orgID, 100_000)
}

// GetSubscription returns a subscription by id.
func (s *Service) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	subs, err := s.ListSubscriptions(ctx, "")
	if err != nil {
		return Subscription{}, err
	}
	for _, sub := range subs {
		if sub.ID == id {
			return sub, nil
		}
	}
	return Subscription{}, core.E(core.KindNotFound, "no subscription "+core.LogSafe(id, 80))
}

// Unsubscribe removes a subscription by id.
func (s *Service) Unsubscribe(ctx context.Context, who Actor, id string) error {
	subs, err := s.ListSubscriptions(ctx, "")
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if sub.ID == id {
			if err := s.store.DeleteDocument(ctx, CollectionSubscriptions, subscriptionDocID(sub.Resource, sub.OrgID, sub.PrincipalID)); err != nil {
				return notFound(err, "no subscription "+id)
			}
			s.Invalidate()
			return s.record(ctx, who, core.AuditDelete, "subscription "+id, "unsubscribed from "+sub.Resource)
		}
	}
	return core.E(core.KindNotFound, "no subscription "+id)
}

// SubscribedResources lists the resources a principal of orgID may use
// (its own and its organisation's subscriptions), sorted.
func (s *Service) SubscribedResources(ctx context.Context, orgID, principalID string) ([]string, error) {
	subs, err := s.ListSubscriptions(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sub := range subs {
		if sub.PrincipalID == "" || sub.PrincipalID == principalID {
			out = append(out, sub.Resource)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
