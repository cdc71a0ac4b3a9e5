package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

type (
	accessPolicy interface {
		Allow(ctx context.Context, a core.Access) error
	}
	auditRecorder interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	sealer interface {
		Seal(plaintext []byte, aad string) ([]byte, error)
		Open(sealed []byte, aad string) ([]byte, error)
	}
	documents interface {
		PutDocument(ctx context.Context, d core.Document) error
		GetDocument(ctx context.Context, collection, id string) (core.Document, error)
		UpdateDocument(ctx context.Context, d core.Document) (core.Document, error)
	}
)

var (
	_ accessPolicy  = core.AccessGate{}
	_ auditRecorder = (*core.Auditor)(nil)
	_ sealer        = (*core.Keyring)(nil)
	_ documents     = (core.Store)(nil)
)

// Deps are what the gateway is built from.
type Deps struct {
	// Schemes are the enabled families' schemes (the family registry).
	Schemes scheme.Set
	// Authz is the privilege check; Policy the API subscriptions (plans,
	// rates, quotas) consulted for routes that name a resource.
	Authz  *core.Authorizer
	Policy accessPolicy
	Docs   documents // the identity key set
	Seal   sealer
	Clock  core.Clock
	Audit  auditRecorder
	Log    *slog.Logger
	// Issuer is the identity token's iss (httpapi.Origin.Base); nil: "authgate".
	Issuer func(r *http.Request) string
	// Addr resolves the client's address and which X-Forwarded-* headers
	// to believe (trusted_proxies).
	Addr httpapi.ClientAddr
	// Transport carries requests upstream; nil: a pooled transport of the
	// gateway's own.
	Transport http.RoundTripper
	// Outgoing wraps that transport (W3C trace context sent upstream when
	// tracing is on); nil: the transport as is.
	Outgoing func(http.RoundTripper) http.RoundTripper
	// Routes are the stored routes (admin API, authgate route); nil: the
	// configured routes only.
	Routes routeStore
	// Metrics receives the per-route series (the server's one registry);
	// nil: a registry of the gateway's own, not served.
	Metrics prometheus.Registerer
}

// Gateway holds the route table and decides requests against it.
type Gateway struct {
	cfg  Config
	d    Deps
	keys *core.SigningKeys
	// identities reuses a credential's identity token on a route (identitycache.go).
	identities *identityCache
	// configured are the routes of the configuration file; the table is
	// rebuilt from them and the stored routes.
	configured []*route
	table      atomic.Pointer[table]
	proxy      *httputil.ReverseProxy
	metrics    *metrics

	mu sync.Mutex
	// builtin reports the paths authgate's own routes serve (set by the
	// mount); nil until then.
	builtin func(path string) bool
	version int64 // of the stored routes in the table
}

// New builds the gateway from the configuration's routes. A route naming
// a scheme whose family is not enabled is an error.
func New(cfg Config, d Deps) (*Gateway, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = core.SystemClock{}
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	g := &Gateway{cfg: cfg, d: d, metrics: newMetrics(d.Metrics)}
	g.keys = newIdentityKeys(cfg, d)
	g.identities = newIdentityCache()
	var errs []error
	for _, r := range cfg.Routes {
		rt, err := compile(r, d.Schemes, SourceConfig)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway route %s: %w", r.Name, err))
			continue
		}
		rt.series = g.metrics.forRoute(rt.Name)
		g.configured = append(g.configured, rt)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g.table.Store(newTable(g.configured))
	g.proxy = g.newReverseProxy()
	return g, nil
}

// Decision is the outcome of Decide. On a refusal it still names what is
// known (the route, the scheme that refuses), so WriteRefusal answers in
// the route's shape.
type Decision struct {
	Route  *Route        // nil: no route matched
	Scheme scheme.Scheme // the scheme that authenticated (or refuses)
	Caller scheme.Caller
	// Header holds the identity headers for the upstream (X-Authgate-*),
	// set by Decide.
	Header http.Header

	rt       *route
	identity identity // the values of Header (Decide) or of the upstream request's (gateway mode)
	allow    []string // methods of the routes covering the path, when none took the method
	status   int      // the refusal's status when no route decided (400, 404, 405)
}

// identity holds the identity headers' values: subject, organisation,
// scheme, identity token, scope ("": no X-Authgate-Scope).
type identity [5]string

// set adds the identity headers to h, each a one-value slice of id's
// array (capacity one: an append copies), allocating nothing: id lives
// as long as h (the decision's copy in the proxied request's state).
func (id *identity) set(h http.Header) {
	h[HeaderSubject] = id[0:1:1]
	h[HeaderOrganisation] = id[1:2:2]
	h[HeaderScheme] = id[2:3:3]
	h[HeaderIdentity] = id[3:4:4]
	if id[4] != "" {
		h[HeaderScope] = id[4:5:5]
	}
}

// header is a new header of the identity headers, their values in one
// array of their own.
func (id identity) header() http.Header {
	h := make(http.Header, len(identityHeaders))
	own := new(identity)
	*own = id
	own.set(h)
	return h
}

// Select matches r to a route and picks the route's scheme that r
// presents, without authenticating: a caller that must buffer the body
// asks d.Scheme.NeedsBody(r) first. With no scheme presented, the route's
// first scheme refuses (unauthenticated).
func (g *Gateway) Select(r *http.Request) (Decision, error) {
	if reason := pathProblem(r.URL); reason != "" {
		return Decision{status: http.StatusBadRequest}, core.E(core.KindInvalidInput, reason)
	}
	rt, allow := g.table.Load().match(requestHost(r.Host), r.URL.Path, r.Method)
	if rt == nil {
		if len(allow) > 0 {
			return Decision{allow: allow, status: http.StatusMethodNotAllowed}, core.E(core.KindInvalidInput, "method "+r.Method+" not allowed")
		}
		return Decision{status: http.StatusNotFound}, core.E(core.KindNotFound, "no such resource")
	}
	d := Decision{Route: &rt.Route, rt: rt}
	for _, s := range rt.schemes {
		if s.Presented(r) {
			d.Scheme = s
			return d, nil
		}
	}
	d.Scheme = rt.schemes[0]
	return d, core.E(core.KindUnauthenticated, "credentials required: "+strings.Join(rt.Schemes, " or "))
}

// Decide matches the request, authenticates it with the scheme of its
// route that it presents, checks the required scope, the privilege table
// and (for a route with a resource) the API subscription and its plan,
// and returns the caller with the identity headers for the upstream.
// Every refusal is audited with the route and the reason.
func (g *Gateway) Decide(ctx context.Context, req scheme.Request) (Decision, error) {
	d, err := g.Select(req.HTTP)
	if d, err = g.decideSelected(ctx, req, d, err); err != nil {
		return d, err
	}
	d.Header = d.identity.header()
	return d, nil
}

// decideSelected continues Decide after Select, without building
// Decision.Header (gateway mode writes the identity headers into the
// upstream request itself).
func (g *Gateway) decideSelected(ctx context.Context, req scheme.Request, d Decision, err error) (Decision, error) {
	if d.rt != nil {
		d.rt.series.requests.Inc()
	}
	if err == nil {
		err = g.authorize(ctx, req, &d)
	}
	if err != nil {
		g.deny(ctx, req, d, err)
		return d, err
	}
	return d, nil
}

func (g *Gateway) authorize(ctx context.Context, req scheme.Request, d *Decision) error {
	c, err := d.Scheme.Authenticate(ctx, req)
	if err != nil {
		return err
	}
	d.Caller = c
	rt := d.rt
	for _, want := range rt.scope {
		if !core.HasScope(c.Scope, want) {
			return core.E(core.KindForbidden, "the credential's scope does not include "+want+" (route "+rt.Name+" requires "+rt.Scope+")")
		}
	}
	a := core.Access{OrgID: c.OrgID, PrincipalID: c.PrincipalID, Method: req.HTTP.Method, Path: req.HTTP.URL.Path,
		Scheme: c.Scheme, Scope: c.Scope, Kind: c.Kind, Resource: rt.Resource}
	gate := core.AccessGate{Authz: g.d.Authz}
	if rt.Resource != "" {
		gate.Policy = g.d.Policy
	}
	if err := gate.Allow(ctx, a); err != nil {
		return err
	}
	tok, err := g.identityToken(ctx, req.HTTP, rt, c)
	if err != nil {
		return err
	}
	d.identity = identity{c.Subject, c.OrgID, c.Scheme, tok, c.Scope}
	return nil
}

// deny audits a refusal with the route and the reason.
func (g *Gateway) deny(ctx context.Context, req scheme.Request, d Decision, err error) {
	route, sch := "", ""
	if d.Route != nil {
		route = d.Route.Name
	}
	if d.Scheme != nil {
		sch = d.Scheme.Name()
	}
	g.metrics.denied(route, sch, err)
	if g.d.Audit == nil {
		return
	}
	reason := core.KindOf(err).String()
	if r := core.ReasonOf(err); r != "" {
		reason += ": " + r
	}
	ev := core.AuditEvent{Action: AuditDeny, Protocol: "gateway", OrgID: d.Caller.OrgID, PrincipalID: d.Caller.PrincipalID,
		Subject: "route " + route, Outcome: core.OutcomeFailure, Reason: strings.TrimSpace(sch + " " + reason),
		RequestID: httpapi.RequestID(req.HTTP)}
	if req.Addr.IsValid() {
		ev.RemoteAddr = req.Addr.String()
	}
	if route == "" {
		ev.Subject = "no route: " + req.HTTP.Method + " " + core.LogSafe(req.HTTP.URL.Path, 200)
	}
	_ = g.d.Audit.Record(ctx, ev)
}

// AuditDeny is the audit action of a gateway refusal.
const AuditDeny = "gateway_deny"

// WriteRefusal answers a refused request: in the scheme's own shape when
// a route and scheme decided, else as JSON: 400 for a path that is not
// canonical, 404 without a route, 405 (with Allow) when routes cover the
// path under other methods.
func (d Decision) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	if d.Scheme != nil {
		d.Scheme.WriteRefusal(w, r, err)
		return
	}
	if len(d.allow) > 0 {
		w.Header().Set("Allow", strings.Join(d.allow, ", "))
	}
	status := d.status
	if status == 0 {
		status = http.StatusNotFound
	}
	writeJSONError(w, status, core.ReasonOf(err))
}

func writeJSONError(w http.ResponseWriter, status int, reason string) {
	httpapi.WriteJSON(w, status, map[string]string{"error": reason})
}

// Routes lists the routes in the table, by name.
func (g *Gateway) Routes() []Route {
	t := g.table.Load()
	out := make([]Route, 0, len(t.byName))
	for _, rt := range t.byName {
		out = append(out, rt.Route)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Register mounts the identity JWKS.
func (g *Gateway) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+RouteJWKS, g.serveJWKS)
}

// Mount tells the gateway which paths authgate's own routes serve
// (httpapi.Handler.Serves) and refuses a route whose path prefix is one of
// them: such a route could never be reached. The catch-all prefix "/" is
// allowed (built-in routes keep precedence under it).
func (g *Gateway) Mount(builtin func(path string) bool) error {
	var errs []error
	for _, rt := range g.configured {
		if err := shadowed(rt.PathPrefix, builtin); err != nil {
			errs = append(errs, fmt.Errorf("gateway route %s: %w", rt.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	g.mu.Lock()
	g.builtin = builtin
	g.mu.Unlock()
	return nil
}

func shadowed(prefix string, builtin func(string) bool) error {
	if prefix == "/" || builtin == nil {
		return nil
	}
	if builtin(prefix) || builtin(prefix+"/") {
		return fmt.Errorf("path_prefix %s is served by authgate itself", prefix)
	}
	return nil
}
