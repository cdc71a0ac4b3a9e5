package taap

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	authn "github.com/authgate/authgate/internal/scheme"
)

// tokenResponse is the TAAP token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// idClaims are the ID token's claims: OpenID Connect core claims plus
// cnf.jkt (RFC 7800/9449 style) naming the PoP key that authenticated.
type idClaims struct {
	jwt.Claims
	AtHash string            `json:"at_hash"`
	Cnf    map[string]string `json:"cnf,omitempty"`
}

// token is POST /oauth2/v6/tokens: TAAP steps 1-2. The client
// authenticates with Basic client id/secret AND a PoP token over at least
// Authorization, uri and http-method (and body when there is one). An
// empty body (how TAAP clients call it) or grant_type=client_credentials
// issues a new grant; grant_type=refresh_token rotates one.
//
// Its outcome is observed once, under GrantToken.
func (m *Module) token(w http.ResponseWriter, r *http.Request) {
	ctx, o := authn.Observe(r.Context(), m.d.Services.Observer, m.d.Services.Tracer, family, GrantToken)
	if ctx != r.Context() { // a span: its children are the grant's store calls
		r = r.WithContext(ctx)
	}
	org, err := m.serveToken(w, r)
	o.Done(org, grantOutcome(err))
}

// grantOutcome is what a token request's error reports to core.Observer:
// core errors as they are, the endpoint's wire errors as the core kind
// they correspond to, so the reason label stays the closed set of kinds.
func grantOutcome(err error) error {
	oe, ok := err.(*oauthError)
	if !ok {
		return err
	}
	switch oe.code {
	case "invalid_client", "invalid_grant":
		return core.ErrUnauthenticated
	case "insufficient_scope":
		return core.ErrForbidden
	}
	return core.ErrInvalidInput
}

// serveToken answers a token request; it returns the client's
// organisation (when known) and the error it answered, nil on success.
func (m *Module) serveToken(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	id, secret, ok := r.BasicAuth()
	if !ok || id == "" {
		err := &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication required: Authorization: Basic base64(client_id:client_secret)"}
		m.auditFailure(r, "", "", "", err)
		m.writeError(w, r, err, ctxClient)
		return "", err
	}
	var cred core.Credential
	err := m.d.Guard.Verify(ctx, core.Attempt{Kind: core.CredClientSecret, Lookup: id, Addr: m.d.ClientAddr.IP(r), Family: family, Scheme: GrantToken}, func() (err error) {
		cred, err = m.d.Credentials.VerifySecret(ctx, core.CredClientSecret, id, secret)
		return err
	})
	if err != nil {
		m.auditFailure(r, "", "", id, err)
		m.writeError(w, r, err, ctxClient)
		return "", err
	}
	cl, err := m.clients.get(ctx, cred.PrincipalID)
	var body []byte
	var pop *Token
	if err == nil {
		body, err = m.readBody(w, r)
	}
	if err == nil {
		s := FromRequest(r, body)
		pop, err = m.verifier.Verify(ctx, Input{Token: r.Header.Get("X-Authorization"), Request: s, Keys: cl.keys, Required: Required(m.cfg.TokenEndpointParts, s), Scope: cred.PrincipalID})
	}
	var resp tokenResponse
	if err == nil {
		resp, err = m.grant(r, cred, pop, body)
	}
	if err != nil {
		if refused(err) {
			m.auditFailure(r, cred.OrgID, cred.PrincipalID, id, err)
		}
		m.writeError(w, r, err, ctxClient)
		return cred.OrgID, err
	}
	w.Header().Set("Pragma", "no-cache")
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return cred.OrgID, nil
}

// refused reports whether err refuses the request (audited as a failed
// grant) rather than being a fault of authgate or its store.
func refused(err error) bool {
	var oe *oauthError
	if errors.As(err, &oe) {
		return true
	}
	k := core.KindOf(err)
	return k != core.KindUnavailable && k != core.KindInternal
}

// grant issues tokens for an authenticated client whose PoP token verified.
func (m *Module) grant(r *http.Request, cred core.Credential, pop *Token, body []byte) (tokenResponse, error) {
	ctx := r.Context()
	form := url.Values{}
	if len(body) > 0 {
		if mt := httpapi.MediaType(r); mt != "application/x-www-form-urlencoded" {
			return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: "a request body must be application/x-www-form-urlencoded"}
		}
		var err error
		if form, err = url.ParseQuery(string(body)); err != nil {
			return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: "the request body is not a valid form"}
		}
	}
	var meta clientMeta
	_ = json.Unmarshal(cred.Meta, &meta)
	if meta.Scope == "" {
		meta.Scope = m.cfg.ResourceScope // RFC 6749 section 3.3: the pre-defined default
	}
	spec := core.TokenSpec{OrgID: cred.OrgID, PrincipalID: cred.PrincipalID, CredentialID: cred.ID, Scope: meta.Scope, Binding: cred.Lookup}
	action, what := core.AuditIssue, ""
	switch gt := form.Get("grant_type"); gt {
	case "", "client_credentials":
	case "refresh_token":
		old, err := m.d.Tokens.Lookup(ctx, core.TokenTAAPRefresh, form.Get("refresh_token"))
		switch k := core.KindOf(err); {
		case err != nil && (k == core.KindUnavailable || k == core.KindInternal):
			return tokenResponse{}, err
		case err != nil:
			return tokenResponse{}, invalidGrant("refresh token is invalid, expired or revoked", err)
		case old.PrincipalID != cred.PrincipalID:
			// Said exactly like an unknown token: the answer must not tell
			// whether another client's token is live.
			return tokenResponse{}, invalidGrant("refresh token is invalid, expired or revoked",
				core.E(core.KindUnauthenticated, "refresh token of another client"))
		}
		ex, err := m.d.Tokens.ExchangeRefresh(ctx, old, m.cfg.RefreshGrace)
		if ex.Reused {
			ev := ex.ReuseEvent(old)
			ev.Protocol, ev.RemoteAddr, ev.RequestID = protocol, m.d.ClientAddr.IP(r), httpapi.RequestID(r)
			_ = m.d.Audit.Record(ctx, ev)
			return tokenResponse{}, invalidGrant("refresh token was already used; its token family is revoked", err)
		}
		if err != nil {
			if k := core.KindOf(err); k == core.KindUnavailable || k == core.KindInternal {
				return tokenResponse{}, err
			}
			return tokenResponse{}, invalidGrant(core.ReasonOf(err), err)
		}
		spec.FamilyID, spec.ParentID = old.FamilyID, old.ID
		if old.Scope != "" { // a refresh keeps the grant's scope (granted before a default existed: the client's)
			spec.Scope = old.Scope
		}
		action = core.AuditRenew
		if ex.Retry {
			what = " (concurrent retry inside the grace window)"
		}
	default:
		return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "grant_type must be client_credentials or refresh_token"}
	}

	aspec := spec
	aspec.Kind, aspec.TTL = core.TokenTAAP, m.cfg.AccessTokenTTL
	access, at := m.d.Tokens.NewToken(aspec)
	rspec := spec
	rspec.Kind, rspec.TTL, rspec.FamilyID = core.TokenTAAPRefresh, m.cfg.RefreshTokenTTL, at.FamilyID
	refresh, rt := m.d.Tokens.NewToken(rspec)
	idt, err := m.idToken(r, cred, pop, access, at)
	if err != nil {
		return tokenResponse{}, err
	}
	ev := func(t core.Token, issued string) core.AuditEvent {
		return core.AuditEvent{Action: action, Protocol: protocol, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
			Reason: issued + " for client " + cred.Lookup + what + " (PoP jti " + pop.JTI + ")", RemoteAddr: m.d.ClientAddr.IP(r), RequestID: httpapi.RequestID(r)}
	}
	if err := m.d.Tokens.Commit(ctx, []core.Token{at, rt}, []core.AuditEvent{ev(at, "access and ID token"), ev(rt, "refresh token")}); err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{AccessToken: access, IDToken: idt, ExpiresIn: int64(m.cfg.AccessTokenTTL / time.Second), TokenType: "Bearer",
		RefreshToken: refresh, Scope: spec.Scope}, nil
}

// idToken signs the ID token with the current authgate key.
func (m *Module) idToken(r *http.Request, cred core.Credential, pop *Token, access string, at core.Token) (string, error) {
	s, err := m.idKeys.Signer(r.Context())
	if err != nil {
		return "", err
	}
	now := m.d.Clock.Now()
	sum := sha256.Sum256([]byte(access))
	c := idClaims{
		Claims: jwt.Claims{Issuer: m.issuer(r), Subject: cred.Lookup, Audience: jwt.Audience{cred.Lookup}, ID: at.ID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(m.cfg.IDTokenTTL))},
		AtHash: b64enc(sum[:16]),
	}
	if pop != nil && pop.Key != nil {
		c.Cnf = map[string]string{"jkt": Thumbprint(pop.Key)}
	}
	out, err := jwt.Signed(s.Signer).Claims(c).Serialize()
	if err != nil {
		return "", core.Wrap(core.KindInternal, "sign ID token", err)
	}
	return out, nil
}

// issuer is the configured issuer, else this server's origin
// (httpapi.Origin: public_url, an allowed Host, or the local address).
func (m *Module) issuer(r *http.Request) string {
	if m.cfg.Issuer != "" {
		return m.cfg.Issuer
	}
	return m.d.Origin.Base(r)
}

// jwks publishes the ID-token verification keys.
func (m *Module) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := m.idKeys.JWKS(r.Context())
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	b, err := json.Marshal(set)
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(b, '\n'))
}

// discoveryDoc is the OpenID Provider Metadata of the TAAP token service
// (OpenID Connect Discovery 1.0, RFC 8414 names), so ID-token consumers
// find the issuer and the JWKS the standard way, plus what a TAAP client
// needs to build acceptable PoP tokens (pop_* members, not standard).
// Only what is served is listed: there is no authorization endpoint
// (hence no response types) and TAAP tokens have no introspection or
// revocation endpoint.
type discoveryDoc struct {
	Issuer           string   `json:"issuer"`
	TokenEndpoint    string   `json:"token_endpoint"`
	JWKSURI          string   `json:"jwks_uri"`
	Scopes           []string `json:"scopes_supported"`
	GrantTypes       []string `json:"grant_types_supported"`
	ResponseTypes    []string `json:"response_types_supported"`
	SubjectTypes     []string `json:"subject_types_supported"`
	IDTokenAlgs      []string `json:"id_token_signing_alg_values_supported"`
	Claims           []string `json:"claims_supported"`
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	// PoPAlgs are the PoP (X-Authorization) algorithms accepted.
	PoPAlgs []string `json:"pop_signing_alg_values_supported"`
	// PoPHeader is the request header that carries the PoP token.
	PoPHeader string `json:"pop_token_header"`
	// PoPPseudoHeaders are the ehts names that are not HTTP headers.
	PoPPseudoHeaders []string `json:"pop_ehts_pseudo_headers_supported"`
	// PoPRequired are, per route, the ehts parts it requires; Authorization
	// whenever the request has one and body whenever it is not empty
	// (PoPRequiredWhenPresent) come on top.
	PoPRequired            map[string][]string `json:"pop_required_ehts"`
	PoPRequiredWhenPresent []string            `json:"pop_required_ehts_when_present"`
	// PoPMaxLifetime is the largest exp - iat accepted, in seconds.
	PoPMaxLifetime int64 `json:"pop_max_lifetime"`
}

// idTokenClaims are the claims every ID token carries.
var idTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "at_hash", "cnf"}

// discovery is GET /.well-known/openid-configuration.
func (m *Module) discovery(w http.ResponseWriter, r *http.Request) {
	iss := m.issuer(r)
	httpapi.WriteJSON(w, http.StatusOK, discoveryDoc{
		Issuer: iss, TokenEndpoint: iss + RouteToken, JWKSURI: iss + RouteJWKS, Scopes: []string{m.cfg.ResourceScope},
		GrantTypes: []string{"client_credentials", "refresh_token"}, ResponseTypes: []string{},
		SubjectTypes: []string{"public"}, IDTokenAlgs: []string{m.cfg.IDTokenAlg}, Claims: idTokenClaims,
		TokenAuthMethods: []string{"client_secret_basic"}, PoPAlgs: m.cfg.Algorithms, PoPHeader: "X-Authorization",
		PoPPseudoHeaders:       []string{PartURI, PartMethod, PartBody},
		PoPRequired:            map[string][]string{RouteToken: m.cfg.TokenEndpointParts, RouteDevice: m.cfg.ResourceParts},
		PoPRequiredWhenPresent: []string{"Authorization", PartBody},
		PoPMaxLifetime:         int64(m.cfg.MaxLifetime / time.Second),
	})
}
