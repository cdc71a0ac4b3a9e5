package oauth2

import (
	"net/http"
	"strconv"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// endpointCaller is who called introspection or revocation.
type endpointCaller struct {
	OrgID string
	Admin bool
	Who   string // key or jti, for the audit log
	Actor core.Actor
}

// mayUse reports whether the caller may introspect or revoke (action) the
// token t; a refusal is audited by the privilege check.
func (m *Module) mayUse(r *http.Request, c endpointCaller, action core.Action, t core.Token) bool {
	return m.bearer.authz.Authorize(r.Context(), core.Authorization{Actor: c.Actor, Action: action, Target: core.Target{OrgID: t.OrgID, PrincipalID: t.PrincipalID},
		Subject: t.ID, Protocol: "oauth2", RemoteAddr: m.opt.Addr.IP(r), RequestID: httpapi.RequestID(r)}) == nil
}

// authenticateEndpoint authenticates an introspection or revocation
// request: client key/secret (Basic or form, RFC 6749 section 2.3.1) or an
// admin's bearer access token.
func (m *Module) authenticateEndpoint(w http.ResponseWriter, r *http.Request, action core.Action) (Form, endpointCaller, bool) {
	f, ferr := readForm(w, r, m.cfg.MaxFormBytes)
	if ferr != nil {
		writeError(w, r, m.log, ferr, ctxClient, "")
		return nil, endpointCaller{}, false
	}
	if _, isBearer := BearerToken(r); isBearer {
		// The one admin check (core.BearerAuth.Admin), refusals in this endpoint's words.
		c, err := m.bearer.Admin(r, action)
		if core.KindOf(err) == core.KindForbidden {
			err = &Error{Status: http.StatusForbidden, Code: codeInsufficientScope,
				Description: "a bearer token must belong to an admin; clients authenticate with their key and secret"}
		}
		if err != nil {
			writeError(w, r, m.log, err, ctxBearer, "Bearer")
			return nil, endpointCaller{}, false
		}
		return f, endpointCaller{OrgID: c.OrgID(), Admin: true, Who: c.Token.ID, Actor: c.Actor()}, true
	}
	// The client's key and secret are checked under the limiter: observed
	// (once, as SchemeEndpointClient) like a grant.
	ctx, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, SchemeEndpointClient)
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	client, ok, cerr := ParseClientAuth(r, f)
	if cerr != nil {
		o.Done("", grantOutcome(cerr))
		writeError(w, r, m.log, cerr, ctxClient, "")
		return nil, endpointCaller{}, false
	}
	if !ok {
		o.Done("", core.ErrUnauthenticated)
		writeError(w, r, m.log, &Error{Status: http.StatusUnauthorized, Code: codeInvalidClient,
			Description: "client authentication required", Challenge: "Basic"}, ctxClient, "Basic")
		return nil, endpointCaller{}, false
	}
	cred, p, err := m.authenticateKey(r.Context(), r, SchemeEndpointClient, client.ID, client.Secret, "client authentication")
	o.Done(cred.OrgID, err)
	if err != nil {
		challenge := ""
		if client.Basic {
			challenge = "Basic"
		}
		writeError(w, r, m.log, err, ctxClient, challenge)
		return nil, endpointCaller{}, false
	}
	return f, endpointCaller{OrgID: cred.OrgID, Admin: core.AdminFor(p.Kind, action), Who: cred.Lookup,
		Actor: core.Actor{Kind: p.Kind, OrgID: p.OrgID, PrincipalID: p.ID}}, true
}

// findToken returns an access or refresh token by value, read from the
// store (not the cache) so introspection reflects the latest state.
func (m *Module) findToken(r *http.Request, value string) (core.Token, bool, error) {
	if value == "" || len(value) > MaxParamLen {
		return core.Token{}, false, nil
	}
	t, err := m.svc.Tokens.Find(r.Context(), value)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return core.Token{}, false, nil
		}
		return core.Token{}, false, err
	}
	if t.Kind != core.TokenAccess && t.Kind != core.TokenRefresh {
		return core.Token{}, false, nil
	}
	return t, true, nil
}

// introspectionResponse is RFC 7662 section 2.2.
type introspectionResponse struct {
	Active    bool   `json:"active"`
	JTI       string `json:"jti,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Scope     string `json:"scope,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	OrgID     string `json:"org_id,omitempty"`
	// Cnf is the RFC 8705 section 3.2 confirmation of a certificate-bound token.
	Cnf *confirmation `json:"cnf,omitempty"`
}

// confirmation is the RFC 7800 cnf member with RFC 8705's x5t#S256.
type confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// introspect serves POST /oauth/introspect (RFC 7662). A token of another
// organisation is reported inactive to non-admin callers, so the endpoint
// is no oracle for scanning.
func (m *Module) introspect(w http.ResponseWriter, r *http.Request) {
	f, caller, ok := m.authenticateEndpoint(w, r, core.ActTokensIntrospect)
	if !ok {
		return
	}
	value := f.get("token")
	if value == "" {
		writeError(w, r, m.log, errInvalidRequest("token is required"), ctxClient, "")
		return
	}
	t, found, err := m.findToken(r, value)
	if err != nil {
		writeError(w, r, m.log, err, ctxClient, "")
		return
	}
	now := m.svc.Clock.Now()
	active := found && t.RevokedAt == nil && !t.ExpiredAt(now) && m.mayUse(r, caller, core.ActTokensIntrospect, t)
	if active && t.Kind == core.TokenRefresh && t.RotatedAt != nil && now.Sub(*t.RotatedAt) > m.cfg.RefreshGrace {
		active = false // exchanged: presenting it again would revoke its family
	}
	resp := introspectionResponse{Active: active}
	if active {
		resp.JTI, resp.Sub, resp.Scope, resp.OrgID = t.ID, t.PrincipalID, t.Scope, t.OrgID
		resp.IssuedAt = t.IssuedAt.Unix()
		if t.ExpiresAt != nil {
			resp.ExpiresAt = t.ExpiresAt.Unix()
		}
		if t.CertThumbprint != "" {
			resp.Cnf = &confirmation{X5tS256: t.CertThumbprint}
		}
		resp.TokenType = "Bearer"
		if t.Kind == core.TokenRefresh {
			resp.TokenType = "refresh_token"
		}
		if c, err := m.svc.Store.GetCredential(r.Context(), t.CredentialID); err == nil {
			resp.ClientID, resp.Username = c.Lookup, c.Lookup
		}
	}
	w.Header().Set("Pragma", "no-cache")
	httpapi.WriteJSONType(w, http.StatusOK, "application/json;charset=UTF-8", resp)
}

// revoke serves POST /oauth/revoke (RFC 7009). Revoking a refresh token
// revokes its whole family (its access tokens too); revoking an access
// token revokes that token. Unknown tokens, and tokens of another
// organisation for non-admin callers, are answered 200 without effect so
// the endpoint reveals nothing; the latter are audited.
func (m *Module) revoke(w http.ResponseWriter, r *http.Request) {
	f, caller, ok := m.authenticateEndpoint(w, r, core.ActTokensRevoke)
	if !ok {
		return
	}
	value := f.get("token")
	if value == "" {
		writeError(w, r, m.log, errInvalidRequest("token is required"), ctxClient, "")
		return
	}
	ctx := r.Context()
	t, found, err := m.findToken(r, value)
	if err != nil {
		writeError(w, r, m.log, err, ctxClient, "")
		return
	}
	switch {
	case !found:
	case !m.mayUse(r, caller, core.ActTokensRevoke, t):
		// RFC 7009 section 2.1: only the client a token was issued to (or
		// an admin) revokes it; answered 200 without effect, audited.
	case t.Kind == core.TokenRefresh:
		n, err := m.svc.Tokens.RevokeFamily(ctx, t.FamilyID)
		if err != nil {
			writeError(w, r, m.log, err, ctxClient, "")
			return
		}
		if err := m.audit(ctx, r, core.AuditEvent{Action: core.AuditRevoke, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
			Reason: "RFC 7009 revocation of a refresh token by " + core.LogSafe(caller.Who, core.MaxLoggedFailedSubject) + "; family revoked (" + strconv.Itoa(n) + " tokens)"}); err != nil {
			writeError(w, r, m.log, err, ctxClient, "")
			return
		}
	default:
		if err := m.svc.Tokens.Revoke(ctx, t.ID); err != nil {
			writeError(w, r, m.log, err, ctxClient, "")
			return
		}
		if err := m.audit(ctx, r, core.AuditEvent{Action: core.AuditRevoke, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
			Reason: "RFC 7009 revocation of an access token by " + core.LogSafe(caller.Who, core.MaxLoggedFailedSubject)}); err != nil {
			writeError(w, r, m.log, err, ctxClient, "")
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}
