package tpv

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/scheme"
)

// SchemeName is the name of the TPV scheme in routes, metrics, audit
// records and X-Authgate-Scheme.
const SchemeName = "tpv-signature"

// Family is the protocol family of the TPV scheme.
const Family = "tpv"

// GrantLogin is the login (POST /api/v1/auth, the auth token's issuance):
// the scheme label of its outcomes and limiter refusals.
const GrantLogin = "tpv-login"

// signatureScheme is the TPV auth token (Authorization) + Signature check
// as a scheme.Scheme. The built-in TPV resources, the gateway and the
// forward-auth endpoint all authenticate through it.
type signatureScheme struct {
	m *Module
	// routes finds which TPV route a path is, for signature_optional:
	// the same rule holds whether the request reaches the built-in
	// resources or an upstream behind the gateway under the same paths.
	routes *http.ServeMux
}

var _ scheme.Scheme = (*signatureScheme)(nil)

func newSignatureScheme(m *Module) *signatureScheme {
	mux := http.NewServeMux()
	for _, r := range Routes {
		mux.HandleFunc(r, func(http.ResponseWriter, *http.Request) {})
	}
	return &signatureScheme{m: m, routes: mux}
}

// Schemes returns the adapter's schemes: tpv-signature.
func (m *Module) Schemes() []scheme.Scheme { return []scheme.Scheme{m.sig} }

func (s *signatureScheme) Name() string   { return SchemeName }
func (s *signatureScheme) Family() string { return Family }

// Presented: a Signature header, or an Authorization header carrying a
// bare token (the vendor's form, no auth-scheme word). "Bearer <token>"
// without a Signature is left to the bearer schemes.
func (s *signatureScheme) Presented(r *http.Request) bool {
	if r.Header.Get(HeaderSignature) != "" {
		return true
	}
	h := r.Header.Get("Authorization")
	return h != "" && !containsSpace(h)
}

func containsSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			return true
		}
	}
	return false
}

// NeedsBody: the Signature covers the SHA-256 of the body, so a signed
// request that has (or, by its method, may have) a body needs it.
func (s *signatureScheme) NeedsBody(r *http.Request) bool {
	return r.Header.Get(HeaderSignature) != "" && mayHaveBody(r)
}

// mayHaveBody reports whether r declares a body or uses a method that
// carries one: without the body such a request's Signature cannot be
// checked, since an empty body cannot be told from an unsent one.
func mayHaveBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return r.ContentLength != 0
}

// routeOf is the TPV route (Routes) r's path addresses, or "" for any
// other path.
func (s *signatureScheme) routeOf(r *http.Request) string {
	_, pattern := s.routes.Handler(&http.Request{Method: http.MethodGet, URL: r.URL, Host: r.Host})
	return pattern
}

// Authenticate checks the auth token and, unless the route is listed in
// signature_optional and none is sent, the Signature (freshness, HMAC with
// the brand's application secret, single use), under the failed-
// authentication limiter. Failures are audited.
func (s *signatureScheme) Authenticate(ctx context.Context, req scheme.Request) (scheme.Caller, error) {
	r := req.HTTP
	ip := s.m.d.ClientAddr.IP(r)
	if req.Addr.IsValid() {
		ip = req.Addr.String()
	}
	route := s.routeOf(r)
	subject := route
	if subject == "" {
		subject = printable(r.URL.Path)
	}
	body := req.Body
	if !req.BodyKnown {
		if r.Header.Get(HeaderSignature) != "" && mayHaveBody(r) {
			err := scheme.BodyUnavailable()
			s.m.auditFailure(r, ip, core.AuditAuthFailure, nil, subject, err)
			return scheme.Caller{}, err
		}
		body = nil // no body: the signature is over the empty body
	}
	b, err := s.m.authenticate(ctx, r, ip, route, body)
	if err != nil {
		s.m.auditFailure(r, ip, core.AuditAuthFailure, b, subject, err)
		return scheme.Caller{}, err
	}
	c := scheme.Caller{
		Scheme: SchemeName, Family: Family, OrgID: b.OrgID, PrincipalID: b.PrincipalID,
		Kind: core.PrincipalApplication, Subject: b.Name, CredentialID: b.TokenID,
	}
	if b.ExpiresAt != nil {
		c.ExpiresAt = *b.ExpiresAt
	}
	return c, nil
}

// WriteRefusal writes err in the TPV API's shape: {"error": "..."} with
// its status, WWW-Authenticate on 401 and Retry-After on 429/503.
func (s *signatureScheme) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	s.m.writeError(w, r, err)
}

// StripCredentials removes the auth token and the Signature with its
// timestamp; the body carries no credentials.
func (s *signatureScheme) StripCredentials(out *http.Request, body []byte) []byte {
	out.Header.Del("Authorization")
	out.Header.Del(HeaderSignature)
	out.Header.Del(HeaderTimestamp)
	return body
}
