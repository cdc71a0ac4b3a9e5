package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Config is the `subscriptions` section of authgate's configuration.
type Config struct {
	// Enabled makes every protected route check subscriptions.
	Enabled bool `yaml:"enabled"`
	// UnlistedRoutes decides protected routes no resource describes:
	// "allow" (only described routes need a subscription) or "deny".
	UnlistedRoutes string `yaml:"unlisted_routes"`
	// CacheMaxAge bounds how long a node trusts its cached resources,
	// plans and subscriptions (changes made elsewhere apply within it).
	CacheMaxAge time.Duration `yaml:"cache_max_age"`
}

// DefaultConfig returns the defaults: enforcement on, routes that no
// resource describes open (so a fresh installation works unchanged).
func DefaultConfig() Config {
	return Config{Enabled: true, UnlistedRoutes: "allow", CacheMaxAge: time.Second}
}

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if c.UnlistedRoutes != "allow" && c.UnlistedRoutes != "deny" {
		errs = append(errs, fmt.Errorf("subscriptions.unlisted_routes %q: use allow or deny", c.UnlistedRoutes))
	}
	if c.CacheMaxAge < 0 || c.CacheMaxAge > time.Minute {
		errs = append(errs, errors.New("subscriptions.cache_max_age must be between 0 and 1m"))
	}
	return errors.Join(errs...)
}

// Store is what the service needs from the core store.
type Store interface {
	core.DocumentStore
	core.CounterStore
	GetOrganisation(ctx context.Context, id string) (core.Organisation, error)
	GetPrincipal(ctx context.Context, id string) (core.Principal, error)
}

type auditRecorder interface {
	Record(ctx context.Context, e core.AuditEvent) error
}

var (
	_ Store         = (core.Store)(nil)
	_ auditRecorder = (*core.Auditor)(nil)
)

// Service manages resources, plans and subscriptions and enforces them.
type Service struct {
	cfg   Config
	store Store
	clock core.Clock
	audit auditRecorder

	mu        sync.Mutex
	resources cached[[]Resource]
	plans     map[string]cached[*Plan]         // nil value: no such plan
	subs      map[string]cached[*Subscription] // by document id; nil: none
	blocked   map[string]time.Time             // counter key -> refuse until
}

type cached[T any] struct {
	v  T
	at time.Time
}

// maxCached bounds each per-node cache; beyond it entries are dropped wholesale.
const maxCached = 100_000

// maxResources bounds how many resources are matched against (all are read).
const maxResources = 1000

// New builds the service. cfg must have passed Validate.
func New(cfg Config, store Store, clock core.Clock, audit auditRecorder) *Service {
	return &Service{cfg: cfg, store: store, clock: clock, audit: audit, plans: map[string]cached[*Plan]{},
		subs: map[string]cached[*Subscription]{}, blocked: map[string]time.Time{}}
}

// Invalidate drops every cached definition on this node.
func (s *Service) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resources = cached[[]Resource]{}
	clear(s.plans)
	clear(s.subs)
}

func (s *Service) fresh(at time.Time, now time.Time) bool {
	return !at.IsZero() && now.Sub(at) < s.cfg.CacheMaxAge
}

// Allow decides whether an authenticated request may proceed: the route's
// resource must accept the scheme, the caller's token scope (if it names
// resources) must include it, the caller (or its organisation) must be
// subscribed, and the plan's rate and quota must not be exhausted. Each
// admitted request counts once against the rate and the quota.
func (s *Service) Allow(ctx context.Context, a core.Access) error {
	if !s.cfg.Enabled {
		return nil
	}
	var res *Resource
	var err error
	if a.Resource != "" {
		if res, err = s.resourceNamed(ctx, a.Resource); err == nil && res == nil {
			return s.deny(ctx, a, a.Resource, fmt.Sprintf("API resource %q does not exist", a.Resource))
		}
	} else {
		res, err = s.resourceFor(ctx, a.Method, a.Path)
	}
	if err != nil {
		return err
	}
	if res == nil {
		if s.cfg.UnlistedRoutes == "deny" {
			return s.deny(ctx, a, "", "no API resource describes "+a.Method+" "+a.Path)
		}
		return nil
	}
	if len(res.Schemes) > 0 && !contains(res.Schemes, accessScheme(a.Scheme)) {
		return s.deny(ctx, a, res.Name, fmt.Sprintf("API resource %q does not accept %s authentication (use %s)", res.Name, a.Scheme, strings.Join(res.Schemes, ", ")))
	}
	if err := s.checkScope(ctx, a, res.Name); err != nil {
		return err
	}
	sub, err := s.subscriptionFor(ctx, res.Name, a.OrgID, a.PrincipalID)
	if err != nil {
		return err
	}
	if sub == nil {
		return s.deny(ctx, a, res.Name, fmt.Sprintf("not subscribed to API resource %q", res.Name))
	}
	if sub.Plan == "" {
		return nil
	}
	plan, err := s.plan(ctx, sub.Plan)
	if err != nil {
		return err
	}
	if plan == nil {
		return s.deny(ctx, a, res.Name, fmt.Sprintf("the plan of the subscription to API resource %q no longer exists", res.Name))
	}
	return s.count(ctx, res.Name, sub, plan)
}

// checkScope refuses a token whose scope names API resources other than res.
func (s *Service) checkScope(ctx context.Context, a core.Access, res string) error {
	if a.Scope == "" {
		return nil
	}
	all, err := s.allResources(ctx)
	if err != nil {
		return err
	}
	limited := false
	for _, tok := range strings.Fields(a.Scope) {
		if tok == res {
			return nil
		}
		for _, r := range all {
			if r.Name == tok {
				limited = true
			}
		}
	}
	if limited {
		return s.deny(ctx, a, res, fmt.Sprintf("the access token's scope does not include API resource %q", res))
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// deny audits a refusal and returns the KindForbidden error naming it.
func (s *Service) deny(ctx context.Context, a core.Access, resource, reason string) error {
	if s.audit != nil {
		_ = s.audit.Record(ctx, core.AuditEvent{Action: "deny", Protocol: "subscription", OrgID: a.OrgID, PrincipalID: a.PrincipalID,
			Subject: resource, Outcome: core.OutcomeFailure, Reason: a.Scheme + " " + a.Method + " " + a.Path + ": " + reason})
	}
	return core.E(core.KindForbidden, reason)
}

// windowEnd is the end of the epoch-aligned window of length d holding now.
func windowEnd(now time.Time, d time.Duration) time.Time {
	w := d.Nanoseconds()
	return time.Unix(0, (now.UnixNano()/w+1)*w).UTC()
}

func retryIn(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
}

// count takes one request from the rate and then the quota of sub. A
// request refused by the rate does not use quota.
func (s *Service) count(ctx context.Context, resource string, sub *Subscription, plan *Plan) error {
	now := s.clock.Now()
	type limit struct {
		key    string
		max    int64
		period time.Duration
		quota  bool
	}
	var limits []limit
	if plan.Rate > 0 {
		limits = append(limits, limit{rateKey(sub.ID), plan.Rate, time.Duration(plan.RatePeriod), false})
	}
	if plan.Quota > 0 {
		limits = append(limits, limit{quotaKey(sub.ID), plan.Quota, time.Duration(plan.QuotaPeriod), true})
	}
	for _, l := range limits {
		end := windowEnd(now, l.period)
		over := func() error {
			wait := retryIn(end.Sub(now))
			secs := int64(wait / time.Second)
			if l.quota {
				return &core.Error{Kind: core.KindQuotaExceeded, RetryAfter: wait, Reason: fmt.Sprintf(
					"quota of API resource %q used up (%d requests per %v); it resets at %s; retry in %d s",
					resource, l.max, l.period, end.Format(time.RFC3339), secs)}
			}
			return &core.Error{Kind: core.KindRateLimited, RetryAfter: wait, Reason: fmt.Sprintf(
				"rate limit of API resource %q exceeded (%d requests per %v); retry in %d s", resource, l.max, l.period, secs)}
		}
		if s.isBlocked(l.key, now) {
			return over()
		}
		n, err := s.store.AddToCounter(ctx, l.key, end, 1)
		if err != nil {
			return err
		}
		if n >= l.max {
			// From now on this node refuses without a round trip until the window ends.
			s.block(l.key, end, now)
		}
		if n > l.max {
			return over()
		}
	}
	return nil
}

func (s *Service) isBlocked(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.blocked[key]
	if ok && !now.Before(until) {
		delete(s.blocked, key)
		return false
	}
	return ok
}

func (s *Service) block(key string, until, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.blocked) >= maxCached {
		for k, u := range s.blocked {
			if !now.Before(u) {
				delete(s.blocked, k)
			}
		}
		if len(s.blocked) >= maxCached {
			return
		}
	}
	s.blocked[key] = until
}

// allResources returns every resource (cached).
func (s *Service) allResources(ctx context.Context) ([]Resource, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c := s.resources
	s.mu.Unlock()
	if s.fresh(c.at, now) {
		return c.v, nil
	}
	list, err := s.ListResources(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.resources = cached[[]Resource]{v: list, at: now}
	s.mu.Unlock()
	return list, nil
}

// resourceNamed returns the resource called name (nil if none).
func (s *Service) resourceNamed(ctx context.Context, name string) (*Resource, error) {
	all, err := s.allResources(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, nil
}

// schemeAliases maps scheme.Scheme names (gateway routes) to the scheme
// names a resource lists.
var schemeAliases = map[string]string{
	"oauth2-bearer": "bearer", "tpv-signature": "tpv", "apstrata": "apstrata", "taap-pop": "pop",
	"device-mtls": "mtls", "device-psk": "mtls",
}

// accessScheme is the resource scheme name of s.
func accessScheme(s string) string {
	if a, ok := schemeAliases[s]; ok {
		return a
	}
	return s
}

// resourceFor returns the resource whose longest path prefix covers
// method and path (nil if none).
func (s *Service) resourceFor(ctx context.Context, method, path string) (*Resource, error) {
	all, err := s.allResources(ctx)
	if err != nil {
		return nil, err
	}
	var best *Resource
	bestLen := -1
	for i := range all {
		if n := all[i].matchLen(method, path); n > bestLen || (n == bestLen && n >= 0 && all[i].Name < best.Name) {
			best, bestLen = &all[i], n
		}
	}
	return best, nil
}

// subscriptionFor returns the principal's own subscription to resource,
// else its organisation's (nil if neither).
func (s *Service) subscriptionFor(ctx context.Context, resource, orgID, principalID string) (*Subscription, error) {
	if principalID != "" {
		sub, err := s.cachedSub(ctx, subscriptionDocID(resource, orgID, principalID))
		if err != nil || sub != nil {
			return sub, err
		}
	}
	return s.cachedSub(ctx, subscriptionDocID(resource, orgID, ""))
}

func (s *Service) cachedSub(ctx context.Context, id string) (*Subscription, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.subs[id]
	s.mu.Unlock()
	if ok && s.fresh(c.at, now) {
		return c.v, nil
	}
	var sub *Subscription
	d, err := s.store.GetDocument(ctx, CollectionSubscriptions, id)
	switch {
	case err == nil:
		sub = new(Subscription)
		if err := json.Unmarshal(d.Data, sub); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
	case core.KindOf(err) != core.KindNotFound:
		return nil, err
	}
	s.mu.Lock()
	if len(s.subs) >= maxCached {
		clear(s.subs)
	}
	s.subs[id] = cached[*Subscription]{v: sub, at: now}
	s.mu.Unlock()
	return sub, nil
}

func (s *Service) plan(ctx context.Context, name string) (*Plan, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.plans[name]
	s.mu.Unlock()
	if ok && s.fresh(c.at, now) {
		return c.v, nil
	}
	p, err := s.GetPlan(ctx, name)
	var pp *Plan
	switch {
	case err == nil:
		pp = &p
	case core.KindOf(err) != core.KindNotFound:
		return nil, err
	}
	s.mu.Lock()
	if len(s.plans) >= maxCached {
		clear(s.plans)
	}
	s.plans[name] = cached[*Plan]{v: pp, at: now}
	s.mu.Unlock()
	return pp, nil
}
