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
	Token core.Token // the access token (ID is its jti)
	Admin bool       // the token belongs to an admin principal
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

var (
	_ tokenChecker  = (*core.Tokens)(nil)
	_ auditRecorder = (*core.Auditor)(nil)
)

// BearerAuth authenticates "Authorization: Bearer <access token>" with
// access tokens issued by this module. Refresh tokens (and tokens of other
// families) are never accepted.
type BearerAuth struct {
	tokens tokenChecker
	audit  auditRecorder
	addr   httpapi.ClientAddr
	log    *slog.Logger
	policy accessPolicy // nil: no API subscription check
}

// accessPolicy decides, after authentication, whether the caller may use
// the route (internal/subscription implements it).
type accessPolicy interface {
	Allow(ctx context.Context, a core.Access) error
}

// SetAccessPolicy makes Require check every non-admin caller against p
// (API subscriptions, rates and quotas). Call it before serving.
func (b *BearerAuth) SetAccessPolicy(p accessPolicy) { b.policy = p }

// NewBearerAuth builds the authenticator.
func NewBearerAuth(tokens tokenChecker, audit auditRecorder, addr httpapi.ClientAddr, log *slog.Logger) *BearerAuth {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BearerAuth{tokens: tokens, audit: audit, addr: addr, log: log}
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
	if err != nil {
		switch core.KindOf(err) {
		case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
			b.fail(ctx, r, t.ID, core.ReasonOf(err))
			return Caller{}, mapError(err, ctxBearer, "Bearer")
		}
		return Caller{}, err
	}
	return Caller{Token: t, Admin: t.Scope == scopeAdmin}, nil
}

func (b *BearerAuth) fail(ctx context.Context, r *http.Request, jti, reason string) {
	_ = b.audit.Record(ctx, core.AuditEvent{Action: core.AuditAuthFailure, Protocol: "oauth2", Subject: jti,
		Outcome: core.OutcomeFailure, Reason: "bearer: " + reason, RemoteAddr: b.addr.IP(r), RequestID: httpapi.RequestID(r)})
}

type callerKey struct{}

// Require wraps next so it runs only for requests with a valid access
// token; the caller is available to next through CallerFrom.
func (b *BearerAuth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := b.Authenticate(r)
		if err != nil {
			writeError(w, r, b.log, err, ctxBearer, "Bearer")
			return
		}
		if b.policy != nil && !c.Admin {
			a := core.Access{OrgID: c.OrgID(), PrincipalID: c.PrincipalID(), Method: r.Method, Path: r.URL.Path, Scheme: "bearer", Scope: c.Token.Scope}
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
