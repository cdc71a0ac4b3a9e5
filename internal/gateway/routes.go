package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// routeStore is what the gateway needs of the store for stored routes.
type routeStore interface {
	CreateGatewayRoute(ctx context.Context, r core.GatewayRoute) error
	GetGatewayRoute(ctx context.Context, name string) (core.GatewayRoute, error)
	ListGatewayRoutes(ctx context.Context) ([]core.GatewayRoute, int64, error)
	DeleteGatewayRoute(ctx context.Context, name string) error
	GatewayRoutesVersion(ctx context.Context) (int64, error)
}

var _ routeStore = (core.Store)(nil)

// Actor is who manages stored routes, for the audit log.
type Actor struct {
	OrgID, PrincipalID, RemoteAddr, RequestID string
}

// Sources of a route.
const (
	SourceConfig   = "config"
	SourceDatabase = "database"
)

// RouteInfo is a route as the admin API and CLI list it.
type RouteInfo struct {
	Route
	Source    string    `json:"source"` // config or database
	CreatedAt time.Time `json:"created_at,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Problem says why a stored route is not served by this node (a scheme
	// whose family is off here, a path authgate serves, an overlap with a
	// route created concurrently); "" when it is.
	Problem string `json:"problem,omitempty"`
}

// RouteAdmin creates, lists and deletes stored routes: through the admin
// API on a node (Gateway.Admin) or directly on the database (authgate
// route). Running nodes see a change within route_poll.
type RouteAdmin struct {
	store      routeStore
	audit      auditRecorder
	clock      core.Clock
	configured []Route
	// check adds the checks only a running node can make (its schemes,
	// its built-in paths); applied applies a change at once on that node.
	check   func(Route) error
	applied func(ctx context.Context)
}

// NewRouteAdmin manages the stored routes beside cfg's configured ones.
func NewRouteAdmin(cfg Config, store routeStore, audit auditRecorder, clock core.Clock) *RouteAdmin {
	return &RouteAdmin{store: store, audit: audit, clock: clock, configured: cfg.Routes}
}

// Create validates r (alone, against every configured and stored route,
// and on a node against its schemes and built-in paths) and stores it.
func (a *RouteAdmin) Create(ctx context.Context, who Actor, r Route) (RouteInfo, error) {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return RouteInfo{}, err
	}
	if a.check != nil {
		if err := a.check(r); err != nil {
			return RouteInfo{}, core.E(core.KindInvalidInput, err.Error())
		}
	}
	stored, _, err := a.storedRoutes(ctx)
	if err != nil {
		return RouteInfo{}, err
	}
	others := slices.Clone(a.configured)
	for _, s := range stored {
		others = append(others, s.Route)
	}
	for _, o := range others {
		if o.Name == r.Name {
			return RouteInfo{}, core.E(core.KindConflict, fmt.Sprintf("a route named %q exists", r.Name))
		}
		if overlap(normalized(o), r) {
			return RouteInfo{}, core.E(core.KindConflict, fmt.Sprintf("route %q matches the same requests (path_prefix %s, hosts and methods overlap)", o.Name, r.PathPrefix))
		}
	}
	spec, err := json.Marshal(r)
	if err != nil {
		return RouteInfo{}, core.Wrap(core.KindInternal, "encode route", err)
	}
	by := who.PrincipalID
	if by == "" {
		by = "cli"
	}
	now := a.clock.Now()
	if err := a.store.CreateGatewayRoute(ctx, core.GatewayRoute{Name: r.Name, Spec: spec, CreatedAt: now, CreatedBy: by}); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return RouteInfo{}, core.E(core.KindConflict, fmt.Sprintf("a route named %q exists", r.Name))
		}
		return RouteInfo{}, err
	}
	a.record(ctx, who, core.AuditCreate, r.Name, "gateway route "+r.PathPrefix+" -> "+strings.Join(r.Upstreams, ", "))
	if a.applied != nil {
		a.applied(ctx)
	}
	return RouteInfo{Route: r, Source: SourceDatabase, CreatedAt: now.UTC(), CreatedBy: by}, nil
}

// Delete removes a stored route; a configured one cannot be.
func (a *RouteAdmin) Delete(ctx context.Context, who Actor, name string) error {
	if slices.ContainsFunc(a.configured, func(r Route) bool { return r.Name == name }) {
		return core.E(core.KindConflict, fmt.Sprintf("route %q is defined in the configuration file: remove it there", name))
	}
	if err := a.store.DeleteGatewayRoute(ctx, name); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return core.E(core.KindNotFound, fmt.Sprintf("no stored route %q", name))
		}
		return err
	}
	a.record(ctx, who, core.AuditDelete, name, "gateway route")
	if a.applied != nil {
		a.applied(ctx)
	}
	return nil
}

// List returns the configured routes, then the stored ones, by name.
func (a *RouteAdmin) List(ctx context.Context) ([]RouteInfo, error) {
	stored, _, err := a.storedRoutes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RouteInfo, 0, len(a.configured)+len(stored))
	for _, r := range a.configured {
		out = append(out, RouteInfo{Route: normalized(r), Source: SourceConfig})
	}
	slices.SortFunc(out, func(x, y RouteInfo) int { return strings.Compare(x.Name, y.Name) })
	if a.check != nil {
		for i := range stored {
			if err := a.check(stored[i].Route); err != nil {
				stored[i].Problem = err.Error()
			}
		}
	}
	return append(out, stored...), nil
}

// Get returns one route by name.
func (a *RouteAdmin) Get(ctx context.Context, name string) (RouteInfo, error) {
	all, err := a.List(ctx)
	if err != nil {
		return RouteInfo{}, err
	}
	for _, r := range all {
		if r.Name == name {
			return r, nil
		}
	}
	return RouteInfo{}, core.E(core.KindNotFound, fmt.Sprintf("no route %q", name))
}

// storedRoutes decodes the stored routes. A spec that no longer decodes
// or validates (an older or newer authgate wrote it) is listed with its
// problem rather than hidden.
func (a *RouteAdmin) storedRoutes(ctx context.Context) ([]RouteInfo, int64, error) {
	list, version, err := a.store.ListGatewayRoutes(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]RouteInfo, 0, len(list))
	for _, s := range list {
		info := RouteInfo{Source: SourceDatabase, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy}
		if err := decodeRoute(s.Spec, &info.Route); err != nil {
			info.Route = Route{Name: s.Name}
			info.Problem = err.Error()
		} else if info.Name != s.Name {
			info.Problem = fmt.Sprintf("stored as %q but named %q", s.Name, info.Name)
		} else if err := info.Validate(); err != nil {
			info.Problem = err.Error()
		}
		out = append(out, info)
	}
	return out, version, nil
}

func decodeRoute(spec []byte, r *Route) error {
	dec := json.NewDecoder(strings.NewReader(string(spec)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return fmt.Errorf("unreadable route: %w", err)
	}
	r.Normalize()
	return nil
}

func (a *RouteAdmin) record(ctx context.Context, who Actor, action, name, reason string) {
	if a.audit == nil {
		return
	}
	_ = a.audit.Record(ctx, core.AuditEvent{Action: action, Protocol: "gateway", OrgID: who.OrgID, PrincipalID: who.PrincipalID,
		Subject: "route " + name, Outcome: core.OutcomeSuccess, Reason: core.LogSafe(reason, core.MaxLoggedReason),
		RemoteAddr: who.RemoteAddr, RequestID: who.RequestID})
}

// Admin is the route administration of this node: it also checks a new
// route against the node's schemes and built-in paths, and applies every
// change here at once (other nodes within route_poll).
func (g *Gateway) Admin() *RouteAdmin {
	a := NewRouteAdmin(g.cfg, g.d.Routes, g.d.Audit, g.d.Clock)
	a.check = g.servable
	a.applied = func(ctx context.Context) {
		if err := g.Reload(ctx); err != nil {
			g.d.Log.Warn("gateway routes not reloaded", slog.Any("err", err))
		}
	}
	return a
}

// servable reports why this node cannot serve r ("" error: it can).
func (g *Gateway) servable(r Route) error {
	if _, err := compile(r, g.d.Schemes, SourceDatabase); err != nil {
		return err
	}
	return shadowed(r.PathPrefix, g.builtinPaths())
}

func (g *Gateway) builtinPaths() func(string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.builtin
}

// Reload rebuilds the table from the configured routes and the stored
// ones. A stored route this node cannot serve (see RouteInfo.Problem) is
// left out and logged; the configured routes always stay.
func (g *Gateway) Reload(ctx context.Context) error {
	if g.d.Routes == nil {
		return nil
	}
	a := NewRouteAdmin(g.cfg, g.d.Routes, nil, g.d.Clock)
	stored, version, err := a.storedRoutes(ctx)
	if err != nil {
		return err
	}
	routes := slices.Clone(g.configured)
	accepted := slices.Clone(g.cfg.Routes)
	var skipped []string
	for _, s := range stored {
		err := errors.New(s.Problem)
		var rt *route
		if s.Problem == "" {
			if rt, err = compile(s.Route, g.d.Schemes, SourceDatabase); err == nil {
				err = shadowed(s.PathPrefix, g.builtinPaths())
			}
		}
		if err == nil {
			for _, o := range accepted {
				if o.Name == s.Name || overlap(normalized(o), s.Route) {
					err = fmt.Errorf("conflicts with route %q", o.Name)
					break
				}
			}
		}
		if err != nil {
			skipped = append(skipped, s.Name)
			g.d.Log.Warn("gateway route not served", slog.String("route", s.Name), slog.String("problem", err.Error()))
			continue
		}
		rt.series = g.metrics.forRoute(rt.Name)
		routes = append(routes, rt)
		accepted = append(accepted, s.Route)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if version < g.version {
		return nil // a concurrent reload read a newer set
	}
	g.table.Store(newTable(routes))
	g.version = version
	g.d.Log.Debug("gateway routes loaded", slog.Int64("version", version), slog.Int("routes", len(routes)), slog.Int("skipped", len(skipped)))
	return nil
}

// Run polls the stored routes' version every route_poll and reloads the
// table when it changed, so every node serves a change within route_poll
// (plus one reload). It returns when ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	if g.d.Routes == nil {
		<-ctx.Done()
		return nil
	}
	if err := g.Reload(ctx); err != nil && ctx.Err() == nil {
		g.d.Log.Warn("gateway routes not loaded", slog.Any("err", err))
	}
	tick := time.NewTicker(g.cfg.RoutePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		v, err := g.d.Routes.GatewayRoutesVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				g.d.Log.Warn("gateway routes version not read", slog.Any("err", err))
			}
			continue
		}
		g.mu.Lock()
		changed := v != g.version
		g.mu.Unlock()
		if changed {
			if err := g.Reload(ctx); err != nil && ctx.Err() == nil {
				g.d.Log.Warn("gateway routes not reloaded", slog.Any("err", err))
			}
		}
	}
}
