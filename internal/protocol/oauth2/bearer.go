package oauth2

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Caller is who a bearer access token authenticates.
type Caller struct {
	Token core.Token         // the access token (ID is its jti)
	Kind  core.PrincipalKind // the token holder's kind
	Admin bool               // the token belongs to an admin principal
}

// Actor is the caller as the privilege check sees it.
func (c Caller) Actor() core.Actor {
	return core.Actor{Kind: c.Kind, OrgID: c.Token.OrgID, PrincipalID: c.Token.PrincipalID}
}

// OrgID is the caller's organisation.
func (c Caller) OrgID() string { return c.Token.OrgID }

// PrincipalID is the caller's principal.
func (c Caller) PrincipalID() string { return c.Token.PrincipalID }

// tokenChecker is what BearerAuth needs from core.Tokens.
type tokenChecker interface {
	Lookup(ctx context.Context, kind core.TokenKind, value string) (core.Token, error)
}

// auditRecorder is what BearerAuth needs from core.Auditor.
type auditRecorder interface {
	Record(ctx context.Context, e core.AuditEvent) error
}

// principalGetter reads the holder of a token that does not record its
// kind (issued before tokens did).
type principalGetter interface {
	GetPrincipal(ctx context.Context, id string) (core.Principal, error)
}

// authorizer is the core privilege check (core.Authorizer).
type authorizer interface {
	Authorize(ctx context.Context, a core.Authorization) error
}

var (
	_ tokenChecker    = (*core.Tokens)(nil)
	_ auditRecorder   = (*core.Auditor)(nil)
	_ principalGetter = (core.PrincipalStore)(nil)
	_ authorizer      = (*core.Authorizer)(nil)
)

// BearerAuth authenticates "Authorization: Bearer <access token>" with
// access tokens issued by this module. Refresh tokens (and tokens of other
// families) are never accepted.
type BearerAuth struct {
	tokens     tokenChecker
	audit      auditRecorder
	principals principalGetter
	authz      authorizer
	addr       httpapi.ClientAddr
	log        *slog.Logger
	policy     accessPolicy // nil: no API subscription check
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
	return &BearerAuth{tokens: svc.Tokens, audit: svc.Audit, principals: svc.Store, authz: authz, addr: addr, log: log}
}

// errNoCredentials is the RFC 6750 section 3.1 answer to a request without
// any authentication: a bare challenge.
var errNoCredentials = &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest,
	Description: "an access token is required: Authorization: Bearer <access_token>", Challenge: "Bearer", bare: true}

// Authenticate returns the caller of r. Failed attempts with a token are
// audited. Errors are *Error values (401 invalid_token / invalid_request)
// or core errors of kind Unavailable/Internal.
func (b *BearerAuth) Authenticate(r *http.Request) (Caller, error) {
	value, present := BearerToken(r)
	if !present {
		return Caller{}, errNoCredentials
	}
	ctx := r.Context()
	if value == "" {
		b.fail(ctx, r, "", "malformed bearer token")
		return Caller{}, &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Description: "malformed Authorization header", Challenge: "Bearer"}
	}
	t, err := b.tokens.Lookup(ctx, core.TokenAccess, value)
	if err == nil {
		// RFC 8705: a certificate-bound token only with its certificate.
		err = core.CheckCertBinding(t, r.TLS)
	}
	if err != nil {
		switch core.KindOf(err) {
		case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
			b.fail(ctx, r, t.ID, core.ReasonOf(err))
			return Caller{}, mapError(err, ctxBearer, "Bearer")
		}
		return Caller{}, err
	}
	kind := t.PrincipalKind
	if kind == "" {
		p, err := b.principals.GetPrincipal(ctx, t.PrincipalID)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound {
				b.fail(ctx, r, t.ID, "token holder no longer exists")
				return Caller{}, mapError(core.E(core.KindUnauthenticated, "invalid token"), ctxBearer, "Bearer")
			}
			return Caller{}, err
		}
		kind = p.Kind
	}
	return Caller{Token: t, Kind: kind, Admin: kind == core.PrincipalAdmin}, nil
}

// authorize runs the core privilege check for c performing action on
// target, with the request's audit details.
func (b *BearerAuth) authorize(r *http.Request, c Caller, action core.Action, target core.Target, subject string) error {
	return b.authz.Authorize(r.Context(), core.Authorization{Actor: c.Actor(), Action: action, Target: target, Subject: subject,
		Protocol: "oauth2", RemoteAddr: b.addr.IP(r), RequestID: httpapi.RequestID(r)})
}

func (b *BearerAuth) fail(ctx context.Context, r *http.Request, jti, reason string) {
	_ = b.audit.Record(ctx, core.AuditEvent{Action: core.AuditAuthFailure, Protocol: "oauth2", Subject: jti,
		Outcome: core.OutcomeFailure, Reason: "bearer: " + reason, RemoteAddr: b.addr.IP(r), RequestID: httpapi.RequestID(r)})
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
		c, err := b.Authenticate(r)
		if err != nil {
			writeError(w, r, b.log, err, ctxBearer, "Bearer")
			return
		}
		// Acting on something of its own: any reach the table grants.
		if err := b.authorize(r, c, action, core.Target{OrgID: c.OrgID(), PrincipalID: c.PrincipalID()}, r.Method+" "+r.URL.Path); err != nil {
			writeError(w, r, b.log, err, ctxResource, "")
			return
		}
		if b.policy != nil && !c.Admin {
			a := core.Access{OrgID: c.OrgID(), PrincipalID: c.PrincipalID(), Method: r.Method, Path: r.URL.Path, Scheme: "bearer", Scope: c.Token.Scope, Kind: c.Kind}
			if err := b.policy.Allow(r.Context(), a); err != nil {
				writeError(w, r, b.log, err, ctxResource, "")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// CallerFrom returns the caller set by Require.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
