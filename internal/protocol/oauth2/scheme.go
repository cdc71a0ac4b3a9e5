package oauth2

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/scheme"
)

// Scheme names of this adapter.
const (
	SchemeBearer = "oauth2-bearer"
	family       = "oauth2"
)

// Grant names: the scheme labels under which the token endpoint's
// exchanges (and the access-key checks of the other endpoints) report
// their outcomes and limiter refusals to core.Observer. A closed set: a
// request without a supported grant_type is GrantUnknown, never the
// value it sent.
const (
	GrantPassword          = "oauth2-password"
	GrantClientCredentials = "oauth2-client-credentials"
	GrantRefresh           = "oauth2-refresh"
	// GrantTLSClientAuth is client_credentials with the device's
	// certificate as the client authentication (RFC 8705, TLSClientAuth).
	GrantTLSClientAuth = "oauth2-tls-client-auth"
	GrantUnknown       = "oauth2-token"
	// GrantSignIn is the console's sign-in (SignIn, a password grant).
	GrantSignIn = "oauth2-console-sign-in"
	// SchemeEndpointClient is the client key and secret authentication
	// of the introspection and revocation endpoints (observed like a
	// grant: it is checked under the same limiter).
	SchemeEndpointClient = "oauth2-endpoint-client"
)

// bearerScheme is "Authorization: Bearer <access token>" (RFC 6750) as a
// scheme.Scheme: the module's bearer routes and the gateway check a token
// through the same BearerAuth.authenticate.
type bearerScheme struct{ b *BearerAuth }

var _ scheme.Scheme = bearerScheme{}

// Schemes returns the adapter's schemes: oauth2-bearer.
func (m *Module) Schemes() []scheme.Scheme { return []scheme.Scheme{m.bearer.Scheme()} }

// Scheme returns the oauth2-bearer scheme over this authenticator.
func (b *BearerAuth) Scheme() scheme.Scheme { return bearerScheme{b} }

func (bearerScheme) Name() string   { return SchemeBearer }
func (bearerScheme) Family() string { return family }

// Presented reports an Authorization header of the Bearer scheme without
// an X-Authorization PoP token: a request with one is TAAP's Bearer + PoP
// (taap-pop), whose access tokens this scheme never accepts.
func (bearerScheme) Presented(r *http.Request) bool {
	_, present := BearerToken(r)
	return present && r.Header.Get("X-Authorization") == ""
}

// NeedsBody is false: a bearer token signs nothing.
func (bearerScheme) NeedsBody(*http.Request) bool { return false }

// Authenticate checks the access token: known, of kind access, unexpired,
// unrevoked, RFC 8705 certificate binding against the connection's client
// certificate; failures are audited. The subject is the principal id, as
// RFC 7662 introspection reports it ("sub").
func (s bearerScheme) Authenticate(ctx context.Context, req scheme.Request) (scheme.Caller, error) {
	t, kind, err := s.b.authenticateFrom(ctx, req.HTTP, req.Addr)
	if err != nil {
		return scheme.Caller{}, err
	}
	// A bearer token is checked the same way every time it is presented
	// (no nonce or replay cache); one bound to a certificate or anything
	// else is not reused: the binding is the connection's, not the token's.
	out := scheme.Caller{Scheme: SchemeBearer, Family: family, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Kind: kind,
		Subject: t.PrincipalID, Scope: t.Scope, CredentialID: t.ID,
		Reusable: t.CertThumbprint == "" && t.Binding == ""}
	if t.ExpiresAt != nil {
		out.ExpiresAt = *t.ExpiresAt
	}
	return out, nil
}

// WriteRefusal writes err as RFC 6750 does: 401 with a Bearer challenge
// (bare for a request without credentials, error="invalid_token" or
// "invalid_request" otherwise), 403 insufficient_scope, 429 with
// Retry-After, and the RFC 6749 JSON body.
func (s bearerScheme) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.b.log, err, ctxBearer, "Bearer")
}

// StripCredentials removes the Authorization header.
func (bearerScheme) StripCredentials(out *http.Request, body []byte) []byte {
	out.Header.Del("Authorization")
	return body
}

// refuse answers a refused request on a bearer route: the scheme's refusal.
func (b *BearerAuth) refuse(w http.ResponseWriter, r *http.Request, err error) {
	bearerScheme{b}.WriteRefusal(w, r, err)
}
