package oauth2

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// Caller is who a bearer access token authenticates.
type Caller struct {
	Token core.Token         // the access token (ID is its jti)
	Kind  core.PrincipalKind // the token holder's kind
}

// Actor is the caller as the privilege check sees it.
func (c Caller) Actor() core.Actor {
	return core.Actor{Kind: c.Kind, OrgID: c.Token.OrgID, PrincipalID: c.Token.PrincipalID}
}

// AdminFor reports whether the caller administers action (core.AdminFor:
// the table grants it across every organisation).
func (c Caller) AdminFor(action core.Action) bool { return core.AdminFor(c.Kind, action) }

// OrgID is the caller's organisation.
func (c Caller) OrgID() string { return c.Token.OrgID }

// PrincipalID is the caller's principal.
func (c Caller) PrincipalID() string { return c.Token.PrincipalID }

// authorizer is the core privilege check (core.Authorizer).
type authorizer interface {
	Authorize(ctx context.Context, a core.Authorization) error
}

var _ authorizer = (*core.Authorizer)(nil)

// BearerAuth authenticates "Authorization: Bearer <access token>" with
// access tokens issued by this module (core.BearerAuth: refresh tokens and
// tokens of other families are never accepted) and guards the module's
// bearer routes. Its scheme (Scheme) is the oauth2-bearer scheme.Scheme
// the gateway uses: both go through authenticate.
type BearerAuth struct {
	core   *core.BearerAuth
	authz  authorizer
	addr   httpapi.ClientAddr
	log    *slog.Logger
	policy accessPolicy // nil: no API subscription check
	// obs and tracer observe the module's own bearer checks (the
	// registry observes the scheme for the gateway).
	obs    core.Observer
	tracer trace.Tracer
}

// accessPolicy decides, after authentication, whether the caller may use
// the route (internal/subscription implements it).
type accessPolicy interface {
	Allow(ctx context.Context, a core.Access) error
}

// SetAccessPolicy makes Require check every non-admin caller against p
// (API subscriptions, rates and quotas). Call it before serving.
func (b *BearerAuth) SetAccessPolicy(p accessPolicy) { b.policy = p }

// NewBearerAuth builds the authenticator over the core services' tokens,
// audit log, principals and privilege check.
func NewBearerAuth(svc core.Services, addr httpapi.ClientAddr) *BearerAuth {
	log := svc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	authz := svc.Authz
	if authz == nil {
		authz = core.NewAuthorizer(svc.Audit)
	}
	return &BearerAuth{core: core.NewBearerAuth(svc.Tokens, svc.Store, svc.Audit, authz), authz: authz, addr: addr, log: log,
		obs: svc.Observer, tracer: svc.Tracer}
}

// Authenticate returns the caller of r. Failed attempts with a token are
// audited. Errors are core errors: core.ErrBearerMissing,
// core.ErrBearerMalformed, Unauthenticated/Expired/Revoked for a bad
// token, Unavailable/Internal.
func (b *BearerAuth) Authenticate(r *http.Request) (Caller, error) {
	t, kind, err := b.authenticateShared(r)
	if err != nil {
		return Caller{}, err
	}
	return Caller{Token: *t, Kind: kind}, nil
}

// authenticateShared is Authenticate with the token as
// core.BearerAuth.AuthenticateShared returns it: shared, not to be
// modified, nil when err is not.
func (b *BearerAuth) authenticateShared(r *http.Request) (*core.Token, core.PrincipalKind, error) {
	if r.Header.Get("Authorization") == "" { // nothing presented: no authentication to observe
		return b.authenticateFrom(r.Context(), r, b.addr.Addr(r))
	}
	ctx, o := scheme.Observe(r.Context(), b.obs, b.tracer, family, SchemeBearer)
	t, kind, err := b.authenticateFrom(ctx, r, b.addr.Addr(r))
	org := ""
	if err == nil {
		org = t.OrgID
	}
	o.Done(org, err)
	return t, kind, err
}

// authenticateFrom is the one bearer check of this module's routes and
// of its scheme: core.BearerAuth with this adapter's audit details. The
// client's address, resolved, is formatted only for the audit record of
// a failure. The token is shared (core.BearerAuth.AuthenticateShared).
func (b *BearerAuth) authenticateFrom(ctx context.Context, r *http.Request, addr netip.Addr) (*core.Token, core.PrincipalKind, error) {
	req := b.request(r, "")
	if req.Addr = addr; !addr.IsValid() {
		req.RemoteAddr = b.addr.IP(r)
	}
	return b.core.AuthenticateShared(ctx, req)
}

func (b *BearerAuth) request(r *http.Request, addr string) core.BearerRequest {
	return core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: "oauth2", RemoteAddr: addr, RequestID: httpapi.RequestID(r)}
}

// Admin is the core admin check (core.BearerAuth.Admin) for action.
func (b *BearerAuth) Admin(r *http.Request, action core.Action) (Caller, error) {
	c, err := b.core.Admin(r.Context(), b.request(r, b.addr.IP(r)), action, r.Method+" "+r.URL.Path)
	return Caller{Token: c.Token, Kind: c.Kind}, err
}

// authorize runs the core privilege check for c performing action on
// target, with the request's audit details.
func (b *BearerAuth) authorize(r *http.Request, c Caller, action core.Action, target core.Target, subject string) error {
	a := core.Authorization{Actor: c.Actor(), Action: action, Target: target, Subject: subject, Protocol: "oauth2", RequestID: httpapi.RequestID(r)}
	if a.Permitted() { // the client's address is formatted for a refusal's audit record only
		return nil
	}
	a.RemoteAddr = b.addr.IP(r)
	return b.authz.Authorize(r.Context(), a)
}

// authorizeRoute is authorize for the route r itself, audited as
// "METHOD path" (formatted only for a refusal, as the address is).
func (b *BearerAuth) authorizeRoute(r *http.Request, c Caller, action core.Action, target core.Target) error {
	a := core.Authorization{Actor: c.Actor(), Action: action, Target: target}
	if a.Permitted() {
		return nil
	}
	return b.authorize(r, c, action, target, r.Method+" "+r.URL.Path)
}

type callerKey struct{}

// Require wraps a protected resource route: next runs only for requests
// with a valid access token whose holder may use resources
// (core.ActResourcesUse) and, for non-admins, passes the API
// subscription policy; the caller is available to next through CallerFrom.
func (b *BearerAuth) Require(next http.Handler) http.Handler {
	return b.RequireAction(core.ActResourcesUse, next)
}

// RequireAction wraps a management route performing action: next runs
// only for callers the privilege table grants action at all (403,
// audited, otherwise). Routes addressing one object check the object's
// owner again with the caller from CallerFrom.
func (b *BearerAuth) RequireAction(action core.Action, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, kind, err := b.authenticateShared(r)
		if err != nil {
			b.refuse(w, r, err)
			return
		}
		c := Caller{Token: *t, Kind: kind}
		// Acting on something of its own: any reach the table grants.
		if err := b.authorizeRoute(r, c, action, core.Target{OrgID: c.OrgID(), PrincipalID: c.PrincipalID()}); err != nil {
			b.refuse(w, r, err)
			return
		}
		if b.policy != nil && !c.AdminFor(core.ActResourcesUse) {
			a := core.Access{OrgID: c.OrgID(), PrincipalID: c.PrincipalID(), Method: r.Method, Path: r.URL.Path, Scheme: "bearer", Scope: c.Token.Scope, Kind: c.Kind}
			if err := b.policy.Allow(r.Context(), a); err != nil {
				b.refuse(w, r, err)
				return
			}
		}
		// The caller is kept as the shared token (CallerFrom copies it):
		// a pointer in an interface costs no allocation, a Caller would.
		// A token that records no holder kind (issued before kinds were
		// recorded) is kept as the Caller with the kind read for it.
		var v any = t
		if kind != t.PrincipalKind {
			v = c
		}
		if !httpapi.SetCaller(r, callerKey{}, v) {
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, v))
		}
		next.ServeHTTP(w, r)
	})
}

// CallerFrom returns the caller set by Require.
func CallerFrom(ctx context.Context) (Caller, bool) {
	v, ok := httpapi.CallerOf(ctx, callerKey{})
	if !ok {
		v = ctx.Value(callerKey{})
	}
	switch c := v.(type) {
	case *core.Token:
		return Caller{Token: *c, Kind: c.PrincipalKind}, true
	case Caller:
		return c, true
	}
	return Caller{}, false
}
