// Package scheme is the one contract every way of authenticating an HTTP
// request implements: OAuth2 bearer tokens, device mTLS / PSK identities,
// TPV auth token + Signature, Apstrata signatures / tokens / bearer for any
// action, TAAP Bearer + PoP. The protocol adapters implement it; the
// built-in demo resources, the gateway (reverse proxy) and its forward-auth
// endpoint consume it, so a request is checked the same way whichever of
// them receives it.
//
// The package is neutral: it imports the core and net/http, never an
// adapter, and adapters never import each other through it.
package scheme

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Caller is who a scheme authenticated, in the terms every consumer needs:
// the privilege table and subscriptions (OrgID, PrincipalID, Kind, Scope)
// and the identity handed to an upstream (Subject, Scheme, Scope).
type Caller struct {
	Scheme       string             // the Scheme.Name that authenticated the request
	Family       string             // the protocol family ("oauth2", "tpv", "apstrata", "taap")
	OrgID        string             // the caller's organisation
	PrincipalID  string             // the caller's principal
	Kind         core.PrincipalKind // the principal's kind (admin, user, device, partner, ...)
	Subject      string             // the name the protocol knows the caller by (client id, access key id, user name)
	Scope        string             // space-separated granted scope; "" when the scheme has none
	CredentialID string             // the credential or token that was presented (jti, key id); never a secret
	ExpiresAt    time.Time          // when that credential or token stops being valid; zero when it does not expire
	// Reusable reports that this acceptance depends on nothing but the
	// presented credential and stored state (the credential, its holder,
	// their revocation): no nonce, timestamp window or replay cache was
	// consulted, nothing is bound to the connection or the body. The same
	// request accepted again before ExpiresAt names the same caller, so a
	// front end may keep the forward-auth answer for a few seconds
	// (gateway.forward_auth_cache_ttl). False, the zero value, for every
	// scheme that does not say so: never reused.
	Reusable bool
}

// Request is the request a scheme checks. In gateway mode it is the request
// itself; in forward-auth mode it is the original request as the front end
// describes it (method, URI, host and headers rebuilt from X-Original-* /
// X-Forwarded-*), whose body the front end may not have sent.
type Request struct {
	// HTTP carries the original method, URL (path and raw query), Host,
	// headers and TLS state. Its Body must not be read: use Body.
	HTTP *http.Request
	// Body is the buffered request body when BodyKnown is true.
	Body []byte
	// BodyKnown is false when the body is not available (forward-auth
	// front ends that do not forward it). A scheme that signs the body
	// must then refuse with BodyUnavailable(), never pass the request.
	BodyKnown bool
	// Addr is the client's address (after trusted_proxies), for the
	// failed-authentication limiter and audit.
	Addr netip.Addr
}

// Scheme is one way of authenticating an HTTP request.
type Scheme interface {
	// Name is the scheme's stable name, used in route definitions,
	// metrics labels, audit records and X-Authgate-Scheme.
	Name() string
	// Family is the protocol family the scheme belongs to.
	Family() string
	// Presented reports, cheaply and without checking anything, whether r
	// carries this scheme's credentials, so that a route accepting
	// several schemes picks the one the client used.
	Presented(r *http.Request) bool
	// NeedsBody reports whether checking r needs its body (the scheme
	// signs it). The gateway buffers the body, bounded by max_body_bytes,
	// only when it does.
	NeedsBody(r *http.Request) bool
	// Authenticate checks the request's credentials: signatures, expiry,
	// replay, revocation, certificate binding, the failed-authentication
	// limiter. It returns a *core.Error on refusal.
	Authenticate(ctx context.Context, req Request) (Caller, error)
	// WriteRefusal writes err in the scheme's own protocol shape (status,
	// WWW-Authenticate, body, Retry-After).
	WriteRefusal(w http.ResponseWriter, r *http.Request, err error)
	// StripCredentials removes the client's credentials (headers, query
	// and form parameters) from out, the request forwarded upstream. body
	// is the buffered body (nil when not buffered); the returned body
	// replaces it when the credentials were in it, or is body unchanged.
	StripCredentials(out *http.Request, body []byte) []byte
}

// BodyUnavailable is the refusal of a scheme that signs the body when the
// front end did not send it (forward-auth without the body).
func BodyUnavailable() *core.Error {
	return core.E(core.KindInvalidInput, "this scheme signs the request body, which the front end did not send: use the gateway mode, or a front end that forwards the body (Envoy ext_authz with_request_body)")
}

// Set is a collection of schemes by name, as the family registry builds it
// from the enabled families.
type Set map[string]Scheme

// Add puts s into the set under its name.
func (s Set) Add(sc Scheme) { s[sc.Name()] = sc }
