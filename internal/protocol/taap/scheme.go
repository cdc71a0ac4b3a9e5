package taap

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/core"
	authn "github.com/authgate/authgate/internal/scheme"
)

// Scheme names of this adapter.
const (
	SchemePoP = "taap-pop"
	family    = "taap"
	// GrantToken is the token endpoint (TAAP steps 1-2: a new grant or a
	// refresh): the scheme label of its outcomes and limiter refusals.
	GrantToken = "taap-token"
)

// popScheme is TAAP step 4 as a scheme.Scheme: "Authorization: Bearer
// <TAAP access token>" plus a PoP token in X-Authorization signed by the
// key of the client the access token was issued to. The connectivity
// resource (RequirePoP) and the gateway check requests through the same
// authenticatePoP; the gateway requires Config.GatewayParts.
type popScheme struct {
	m     *Module
	parts []string
}

var _ authn.Scheme = popScheme{}

// Schemes returns the adapter's schemes: taap-pop.
func (m *Module) Schemes() []authn.Scheme {
	return []authn.Scheme{popScheme{m: m, parts: m.cfg.GatewayParts}}
}

func (popScheme) Name() string   { return SchemePoP }
func (popScheme) Family() string { return family }

// Presented reports a Bearer Authorization header together with an
// X-Authorization PoP token.
func (popScheme) Presented(r *http.Request) bool {
	_, present := bearerToken(r)
	return present && r.Header.Get("X-Authorization") != ""
}

// NeedsBody reports whether checking r needs its body: when the PoP
// token's ehts names body, and whenever r has or (by its method) may have
// a body, which the PoP must then sign (Required). ehts is read from the
// token's claims without verifying it (a base64url decode and a small
// JSON read, bounded by MaxTokenBytes); a token that cannot be read
// fails the check later whatever the answer.
func (popScheme) NeedsBody(r *http.Request) bool {
	return mayHaveBody(r) || SignsBody(r.Header.Get("X-Authorization"))
}

// mayHaveBody reports whether r declares a body or uses a method that
// carries one: without the body such a request cannot be checked, since
// an empty body cannot be told from one the front end did not send.
func mayHaveBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return r.ContentLength != 0 || r.Header.Get("Transfer-Encoding") != ""
}

// SignsBody reports whether the (unverified) PoP token's ehts names
// the body pseudo-part.
func SignsBody(pop string) bool {
	if pop == "" || len(pop) > MaxTokenBytes {
		return false
	}
	_, rest, ok := strings.Cut(pop, ".")
	claims, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return false
	}
	b, err := b64(claims)
	if err != nil {
		return false
	}
	var c struct {
		EHTS string `json:"ehts"`
	}
	if json.Unmarshal(b, &c) != nil {
		return false
	}
	for _, p := range strings.Split(c.EHTS, ";") {
		if strings.Trim(p, " \t") == PartBody {
			return true
		}
	}
	return false
}

// Authenticate checks the access token (TAAP kind, unexpired, unrevoked),
// the client's registered keys, and the PoP token: signature, alg, iat,
// exp, lifetime, required parts, edts over the request, jti used once
// (the replay cache every node shares). Without the body (forward-auth
// front ends that do not send it) a request whose PoP signs the body, or
// which may have one, is refused with authn.BodyUnavailable.
func (s popScheme) Authenticate(ctx context.Context, req authn.Request) (authn.Caller, error) {
	r := req.HTTP
	addr := ""
	if req.Addr.IsValid() {
		addr = req.Addr.String()
	} else {
		addr = s.m.d.ClientAddr.IP(r)
	}
	if !req.BodyKnown && s.NeedsBody(r) {
		err := authn.BodyUnavailable()
		s.m.auditFailureFrom(r, addr, "", "", "", err)
		return authn.Caller{}, err
	}
	c, err := s.m.authenticatePoP(ctx, r, addr, s.parts, func() ([]byte, error) {
		if int64(len(req.Body)) > s.m.cfg.MaxBodyBytes {
			return nil, &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: "request body too large"}
		}
		return req.Body, nil
	})
	if err != nil {
		return authn.Caller{}, err
	}
	out := authn.Caller{Scheme: SchemePoP, Family: family, OrgID: c.Token.OrgID, PrincipalID: c.Token.PrincipalID,
		Kind: core.PrincipalApplication, Subject: c.ClientID, Scope: c.Token.Scope, CredentialID: c.Token.ID}
	if c.Token.ExpiresAt != nil {
		out.ExpiresAt = *c.Token.ExpiresAt
	}
	return out, nil
}

// WriteRefusal writes err in TAAP's shape: {"error", "error_description"}
// with invalid_pop_token and a PoP challenge for PoP failures, an RFC
// 6750 Bearer challenge for access-token failures, Retry-After for 429
// and 503.
func (s popScheme) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	s.m.writeError(w, r, err, ctxBearer)
}

// StripCredentials removes Authorization and X-Authorization.
func (popScheme) StripCredentials(out *http.Request, body []byte) []byte {
	out.Header.Del("Authorization")
	out.Header.Del("X-Authorization")
	return body
}
