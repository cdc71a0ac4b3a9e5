package core

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"
)

// The one path from "Authorization: Bearer <access token>" to the caller
// the token was issued to, and the one admin check on top of it. The
// OAuth2 adapter's bearer scheme, the CA admin API, the subscriptions
// admin API and TAAP's admin API all authenticate through BearerAuth and
// only map its errors to their own shapes.

// MaxBearerLen bounds the token value read from an Authorization header
// (Tokens.Lookup refuses longer ones too).
const MaxBearerLen = 4096

// Sentinels of a request without a usable bearer token. They are
// KindUnauthenticated; errors.Is tells them apart from a wrong token, so
// an adapter can answer RFC 6750 section 3.1's bare challenge to a
// request that carried no credentials at all.
var (
	ErrBearerMissing   = E(KindUnauthenticated, "an access token is required: Authorization: Bearer <access_token>")
	ErrBearerMalformed = E(KindUnauthenticated, "malformed Authorization header")
)

// ParseBearer reads an Authorization header value of the Bearer scheme
// (RFC 6750 section 2.1, scheme case-insensitive). present is false when
// the header is of another scheme or absent; value is "" when it is a
// Bearer header whose credentials are not one token68 of at most
// MaxBearerLen bytes.
func ParseBearer(header string) (value string, present bool) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" || len(rest) > MaxBearerLen || !IsToken68(rest) {
		return "", true
	}
	return rest, true
}

// IsToken68 checks the RFC 7235 token68 syntax.
func IsToken68(s string) bool {
	i := len(s)
	for i > 0 && s[i-1] == '=' {
		i--
	}
	if i == 0 {
		return false
	}
	for _, c := range []byte(s[:i]) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// BearerRequest is one request presenting a bearer access token, with
// what the audit record of a failure needs.
type BearerRequest struct {
	Header     string               // the Authorization header value as sent
	TLS        *tls.ConnectionState // the connection, for RFC 8705 certificate binding
	Protocol   string               // audit protocol of the adapter asking
	RemoteAddr string
	// Addr is the client's address when RemoteAddr is "": formatted only
	// for the audit record of a failure, off the hot path.
	Addr      netip.Addr
	RequestID string
}

// remoteAddr is the client's address for the audit log.
func (req BearerRequest) remoteAddr() string {
	if req.RemoteAddr == "" && req.Addr.IsValid() {
		return req.Addr.String()
	}
	return req.RemoteAddr
}

// BearerCaller is who an access token authenticates.
type BearerCaller struct {
	Token Token         // the access token (ID is its jti)
	Kind  PrincipalKind // the token holder's kind
}

// Actor is the caller as the privilege check sees it.
func (c BearerCaller) Actor() Actor {
	return Actor{Kind: c.Kind, OrgID: c.Token.OrgID, PrincipalID: c.Token.PrincipalID}
}

// The services BearerAuth needs, as small interfaces.
type (
	bearerTokens interface {
		LookupShared(ctx context.Context, kind TokenKind, value string) (*Token, error)
	}
	bearerPrincipals interface {
		GetPrincipal(ctx context.Context, id string) (Principal, error)
	}
)

var (
	_ bearerTokens     = (*Tokens)(nil)
	_ bearerPrincipals = (PrincipalStore)(nil)
)

// BearerAuth authenticates OAuth2 access tokens (TokenAccess; refresh
// tokens and other families' tokens are never accepted).
type BearerAuth struct {
	tokens     bearerTokens
	principals bearerPrincipals
	audit      forbiddenRecorder
	authz      *Authorizer
}

// NewBearerAuth builds the authenticator; failures are audited through
// audit, admin refusals decided by authz (nil: one auditing through audit).
func NewBearerAuth(tokens bearerTokens, principals bearerPrincipals, audit forbiddenRecorder, authz *Authorizer) *BearerAuth {
	if authz == nil {
		authz = NewAuthorizer(audit)
	}
	return &BearerAuth{tokens: tokens, principals: principals, audit: audit, authz: authz}
}

// BearerAuth is the bearer authenticator over these services.
func (s Services) BearerAuth() *BearerAuth {
	return NewBearerAuth(s.Tokens, s.Store, s.Audit, s.Authz)
}

// Authenticate returns the caller of req's access token. A request
// without a Bearer header is ErrBearerMissing (not audited: it tried
// nothing); a malformed one ErrBearerMalformed; an unknown, expired,
// revoked or wrongly bound token (RFC 8705: a certificate-bound token only
// over its certificate) is KindUnauthenticated / Expired / Revoked with a
// caller-safe reason. Failures with a token are audited. The holder's
// kind is the one recorded in the token at issue (tokens of a principal
// are revoked when it is disabled); a token that records none reads the
// principal, which must exist and be enabled.
func (b *BearerAuth) Authenticate(ctx context.Context, req BearerRequest) (BearerCaller, error) {
	t, kind, err := b.AuthenticateShared(ctx, req)
	if err != nil {
		return BearerCaller{}, err
	}
	return BearerCaller{Token: *t, Kind: kind}, nil
}

// AuthenticateShared is Authenticate for a caller that keeps the token
// without copying it: t may be the token cache's entry, shared by every
// request presenting the token (Tokens.LookupShared), and must not be
// modified; kind is the holder's. t is nil when err is not.
func (b *BearerAuth) AuthenticateShared(ctx context.Context, req BearerRequest) (t *Token, kind PrincipalKind, err error) {
	value, present := ParseBearer(req.Header)
	if !present {
		return nil, "", ErrBearerMissing
	}
	if value == "" {
		b.fail(ctx, req, Token{}, "malformed bearer token")
		return nil, "", ErrBearerMalformed
	}
	t, err = b.tokens.LookupShared(ctx, TokenAccess, value)
	if err == nil {
		err = CheckCertBinding(*t, req.TLS)
	}
	if err != nil {
		switch KindOf(err) {
		case KindUnauthenticated, KindExpired, KindRevoked:
			var failed Token
			if t != nil {
				failed = *t
			}
			b.fail(ctx, req, failed, ReasonOf(err))
		}
		return nil, "", err
	}
	if kind = t.PrincipalKind; kind == "" {
		p, err := b.holder(ctx, req, *t)
		if err != nil {
			return nil, "", err
		}
		kind = p.Kind
	}
	return t, kind, nil
}

// holder reads the principal a token was issued to: it must exist and be
// enabled.
func (b *BearerAuth) holder(ctx context.Context, req BearerRequest, t Token) (Principal, error) {
	p, err := b.principals.GetPrincipal(ctx, t.PrincipalID)
	if err != nil {
		if KindOf(err) == KindNotFound {
			b.fail(ctx, req, t, "token holder no longer exists")
			return Principal{}, E(KindUnauthenticated, "invalid token")
		}
		return Principal{}, err
	}
	if p.Disabled {
		b.fail(ctx, req, t, "token holder is disabled")
		return Principal{}, E(KindUnauthenticated, "principal disabled")
	}
	return p, nil
}

// AdminCaller is the authentication of an admin API request without the
// privilege check (the admin API's routes authorize per object): req's
// token authenticates (Authenticate) and its holder is read afresh (it
// must exist and be enabled; its kind is the store's, not the token's).
// Even a request without a token is audited.
func (b *BearerAuth) AdminCaller(ctx context.Context, req BearerRequest) (BearerCaller, error) {
	c, err := b.Authenticate(ctx, req)
	if err != nil {
		if errors.Is(err, ErrBearerMissing) {
			// On an admin API even an attempt without a token is audited.
			b.fail(ctx, req, Token{}, "no access token")
		}
		return BearerCaller{}, err
	}
	p, err := b.holder(ctx, req, c.Token)
	if err != nil {
		return BearerCaller{}, err
	}
	c.Kind = p.Kind
	return c, nil
}

// Admin is the one admin check of every admin API (CA, subscriptions,
// TAAP clients and SIMs, OAuth2 introspection and revocation by bearer):
// req's token authenticates (Authenticate), its holder is read afresh
// (it must exist and be enabled, and its kind is the store's, not the
// token's), and the privilege table grants action to that kind across
// every organisation (AdminFor). Refusals, even of a request without a
// token, are audited; the error is
// KindUnauthenticated (see Authenticate) or KindForbidden.
func (b *BearerAuth) Admin(ctx context.Context, req BearerRequest, action Action, subject string) (BearerCaller, error) {
	c, err := b.AdminCaller(ctx, req)
	if err != nil {
		return BearerCaller{}, err
	}
	err = b.authz.AuthorizeAdmin(ctx, Authorization{Actor: c.Actor(), Action: action, Subject: subject,
		Protocol: req.Protocol, RemoteAddr: req.remoteAddr(), RequestID: req.RequestID})
	if err != nil {
		return BearerCaller{}, err
	}
	return c, nil
}

func (b *BearerAuth) fail(ctx context.Context, req BearerRequest, t Token, reason string) {
	if b.audit == nil {
		return
	}
	_ = b.audit.Record(ctx, AuditEvent{Action: AuditAuthFailure, Protocol: req.Protocol, OrgID: t.OrgID, PrincipalID: t.PrincipalID,
		Subject: t.ID, Outcome: OutcomeFailure, Reason: "bearer: " + reason, RemoteAddr: req.remoteAddr(), RequestID: req.RequestID})
}
