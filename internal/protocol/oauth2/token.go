package oauth2

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// scopeAdmin marks tokens of admin principals, so bearer checks need no
// principal lookup.
const scopeAdmin = "admin"

// Device-server token media type (see the package comment).
const mediaOAuthToken = "application/vnd.imgtec.com.oauthtoken+json"

// tokenResponse is RFC 6749 section 5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Scope is sent when the request named a scope (RFC 6749 section
	// 5.1: required when it differs; always then, so a client need not compare).
	Scope string `json:"scope,omitempty"`
}

// wrappedTokenResponse is the device server's {"oAuthToken":{...}} shape,
// with expires_in as a string.
type wrappedTokenResponse struct {
	OAuthToken struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    string `json:"expires_in"`
		RefreshToken string `json:"refresh_token,omitempty"`
		Scope        string `json:"scope,omitempty"`
	} `json:"oAuthToken"`
}

// token serves POST /oauth/token.
func (m *Module) token(w http.ResponseWriter, r *http.Request) {
	f, ferr := readForm(w, r, m.cfg.MaxFormBytes)
	if ferr != nil {
		_, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, GrantUnknown)
		o.Done("", grantOutcome(ferr))
		m.refuseToken(w, r, ferr, ctxClient, "", "")
		return
	}
	m.grant(w, r, f)
}

// grantName is the scheme label of a token request's grant (GrantUnknown
// for a missing or unsupported grant_type).
func grantName(grantType string) string {
	switch grantType {
	case "password":
		return GrantPassword
	case "refresh_token":
		return GrantRefresh
	case "client_credentials":
		return GrantClientCredentials
	}
	return GrantUnknown
}

// grantOutcome is what a grant's error reports to core.Observer: core
// errors as they are, the wire errors raised before any core check (a
// malformed request, missing client authentication) as the core kind
// they correspond to, so the reason label stays the closed set of kinds.
func grantOutcome(err error) error {
	we, ok := err.(*Error)
	if !ok {
		return err
	}
	switch we.Code {
	case codeInvalidClient, codeInvalidGrant, codeInvalidToken:
		return core.ErrUnauthenticated
	case codeUnavailable:
		return core.ErrUnavailable
	case codeServerError:
		return core.ErrInternal
	}
	return core.ErrInvalidInput
}

// grant answers a token request whose form has been read; its outcome is
// observed once, under the grant's name (grantName).
func (m *Module) grant(w http.ResponseWriter, r *http.Request, f Form) {
	ctx, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, grantName(f.grantType()))
	if ctx != r.Context() { // a span: its children are the grant's store calls
		r = r.WithContext(ctx)
	}
	client, hasClient, cerr := ParseClientAuth(r, f)
	if cerr != nil {
		o.Done("", grantOutcome(cerr))
		m.refuseToken(w, r, cerr, ctxClient, "", "")
		return
	}
	var (
		resp tokenResponse
		err  error
		in   = ctxGrant
	)
	switch gt := f.grantType(); gt {
	case "password":
		resp, in, err = m.passwordGrant(r, f, client, hasClient)
	case "refresh_token":
		resp, in, err = m.refreshGrant(r, f, client, hasClient)
	case "client_credentials":
		resp, in, err = m.clientCredentialsGrant(r, f, client, hasClient)
	case "":
		err = errInvalidRequest("grant_type is required")
	default:
		err = &Error{Status: http.StatusBadRequest, Code: codeUnsupportedGrantType, Description: "grant_type " + safeName(f.get("grant_type")) + " is not supported"}
	}
	o.Done("", grantOutcome(err))
	if err != nil {
		challenge := ""
		if client.Basic {
			challenge = "Basic"
		}
		m.refuseToken(w, r, err, in, challenge, client.ID)
		return
	}
	m.writeToken(w, r, resp)
}

// refuseToken answers a failed token request. Refusals raised here as
// wire errors (a malformed request, an unsupported grant, missing client
// authentication) have not been audited yet, unlike those of credential
// and token checks, which audit where they decide: audit them now, so
// every failed grant leaves an event.
func (m *Module) refuseToken(w http.ResponseWriter, r *http.Request, err error, in errContext, challenge, subject string) {
	var we *Error
	if errors.As(err, &we) {
		m.audit(r.Context(), r, core.AuditEvent{Action: core.AuditAuthFailure, Subject: subject, Outcome: core.OutcomeFailure,
			Reason: "token request refused: " + we.Code + ": " + we.Description})
	}
	writeError(w, r, m.log, err, in, challenge)
}

// writeToken sends a token response in the representation the client asked for.
func (m *Module) writeToken(w http.ResponseWriter, r *http.Request, resp tokenResponse) {
	w.Header().Set("Pragma", "no-cache")
	if !acceptsMedia(r, mediaOAuthToken) {
		httpapi.WriteJSONType(w, http.StatusOK, "application/json;charset=UTF-8", resp)
		return
	}
	if m.cfg.DeviceServerResponse == "wrapped" {
		var wr wrappedTokenResponse
		wr.OAuthToken.AccessToken, wr.OAuthToken.TokenType = resp.AccessToken, resp.TokenType
		wr.OAuthToken.ExpiresIn = strconv.FormatInt(resp.ExpiresIn, 10)
		wr.OAuthToken.RefreshToken, wr.OAuthToken.Scope = resp.RefreshToken, resp.Scope
		httpapi.WriteJSONType(w, http.StatusCreated, mediaOAuthToken, wr)
		return
	}
	httpapi.WriteJSONType(w, http.StatusCreated, mediaOAuthToken, resp)
}

// acceptsMedia reports whether the Accept header names mt explicitly.
func acceptsMedia(r *http.Request, mt string) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			t, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && strings.EqualFold(t, mt) && params["q"] != "0" {
				return true
			}
		}
	}
	return false
}

// passwordGrant: username is the access key, password its secret. Client
// credentials, if sent, must be a valid key too.
func (m *Module) passwordGrant(r *http.Request, f Form, client ClientCredentials, hasClient bool) (tokenResponse, errContext, error) {
	ctx := r.Context()
	user, pass := f.get("username"), f.get("password")
	if user == "" || pass == "" {
		return tokenResponse{}, ctxGrant, errInvalidRequest("username and password are required")
	}
	if hasClient && (client.ID != user || client.Secret != pass) {
		if _, _, err := m.authenticateKey(ctx, r, GrantPassword, client.ID, client.Secret, "client authentication"); err != nil {
			return tokenResponse{}, ctxClient, err
		}
	}
	cred, p, err := m.authenticateKey(ctx, r, GrantPassword, user, pass, "password grant")
	if err != nil {
		return tokenResponse{}, ctxGrant, err
	}
	scope, named, err := m.grantScope(ctx, f, p)
	if err != nil {
		return tokenResponse{}, ctxGrant, err
	}
	resp, err := m.issuePair(ctx, r, cred, p, core.Token{}, scope, scope, core.AuditIssue, "password grant")
	return withScope(resp, scope, named), ctxGrant, err
}

// clientCredentialsGrant: the client's key and secret get an access token
// (no refresh token, RFC 6749 section 4.4.3).
func (m *Module) clientCredentialsGrant(r *http.Request, f Form, client ClientCredentials, hasClient bool) (tokenResponse, errContext, error) {
	if !hasClient {
		return tokenResponse{}, ctxClient, &Error{Status: http.StatusUnauthorized, Code: codeInvalidClient, Description: "client authentication required", Challenge: "Basic"}
	}
	ctx := r.Context()
	cred, p, err := m.authenticateKey(ctx, r, GrantClientCredentials, client.ID, client.Secret, "client credentials grant")
	if err != nil {
		return tokenResponse{}, ctxClient, err
	}
	scope, named, err := m.grantScope(ctx, f, p)
	if err != nil {
		return tokenResponse{}, ctxGrant, err
	}
	resp, _, err := m.issueAccess(ctx, r, cred, p, scope, "client credentials grant")
	return withScope(resp, scope, named), ctxClient, err
}

// issueAccess issues an access token alone (no refresh token) and commits
// it with its audit record before returning.
func (m *Module) issueAccess(ctx context.Context, r *http.Request, cred core.Credential, p core.Principal, scope, reason string) (tokenResponse, core.Token, error) {
	now := m.svc.Clock.Now()
	access, at := m.svc.Tokens.NewToken(core.TokenSpec{Kind: core.TokenAccess, OrgID: cred.OrgID, PrincipalID: p.ID,
		PrincipalKind: p.Kind, CredentialID: cred.ID, Scope: scope, TTL: m.cfg.AccessTokenTTL})
	ev := m.event(r, core.AuditEvent{Action: core.AuditIssue, OrgID: cred.OrgID, PrincipalID: p.ID, Subject: at.ID,
		Reason: reason + " for key " + cred.Lookup})
	if err := m.svc.Tokens.Commit(ctx, []core.Token{at}, []core.AuditEvent{ev}); err != nil {
		return tokenResponse{}, core.Token{}, err
	}
	return tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expiresIn(at, now)}, at, nil
}

// SignIn is the password grant for a caller that is not an OAuth2 client
// on the wire (the admin console's sign-in form): the access key and its
// secret are checked as the grant checks them, under the same
// failed-authentication limits and with the same audit records, and one
// access token of the principal's default scope is issued. No refresh
// token: the session ends with the access token. Errors are core errors:
// Unauthenticated for any wrong, unknown, revoked or disabled key (one
// reason, whatever failed), RateLimited when the limits refuse the attempt.
// It returns the token's value and its record. The outcome is observed
// under GrantSignIn.
func (m *Module) SignIn(r *http.Request, key, secret string) (value string, tok core.Token, err error) {
	ctx, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, GrantSignIn)
	defer func() { o.Done(tok.OrgID, err) }()
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	value, tok, err = m.signIn(ctx, r, key, secret)
	return value, tok, err
}

func (m *Module) signIn(ctx context.Context, r *http.Request, key, secret string) (string, core.Token, error) {
	const purpose = "console sign-in (password grant)"
	if key == "" || secret == "" || len(key) > MaxParamLen || len(secret) > MaxParamLen {
		m.audit(ctx, r, core.AuditEvent{Action: core.AuditAuthFailure, Subject: core.LogSafe(key, core.MaxLoggedFailedSubject), Outcome: core.OutcomeFailure,
			Reason: purpose + ": access key and secret are required"})
		return "", core.Token{}, core.E(core.KindUnauthenticated, "invalid key or secret")
	}
	cred, p, err := m.authenticateKey(ctx, r, GrantSignIn, key, secret, purpose)
	if err != nil {
		return "", core.Token{}, err
	}
	resp, at, err := m.issueAccess(ctx, r, cred, p, scopeOf(p), purpose)
	if err != nil {
		return "", core.Token{}, err
	}
	return resp.AccessToken, at, nil
}

// withScope names the granted scope in the response when the request named one.
func withScope(resp tokenResponse, scope string, named bool) tokenResponse {
	if named {
		resp.Scope = scope
	}
	return resp
}

// scopeOf is the default scope of p's grants.
func scopeOf(p core.Principal) string {
	if p.Kind == core.PrincipalAdmin {
		return scopeAdmin
	}
	return ""
}

func expiresIn(t core.Token, now time.Time) int64 {
	if t.ExpiresAt == nil {
		return 0
	}
	return int64(t.ExpiresAt.Sub(now).Round(time.Second) / time.Second)
}

// issuePair issues an access and a refresh token, rotated from parent (a
// new family if parent is the zero token), and commits them with their
// audit record in one transaction (grouped with concurrent requests)
// before returning: an acknowledged token is committed. A pair rotated
// from a certificate-bound token stays bound to the same certificate.
// The refresh token carries the grant's scope, the access token
// accessScope (narrower after a refresh that asked for less).
func (m *Module) issuePair(ctx context.Context, r *http.Request, cred core.Credential, p core.Principal, parent core.Token, accessScope, grantScope, action, reason string) (tokenResponse, error) {
	now := m.svc.Clock.Now()
	family := parent.FamilyID
	if family == "" {
		family = core.NewSortableID(now)
	}
	base := core.TokenSpec{OrgID: cred.OrgID, PrincipalID: p.ID, PrincipalKind: p.Kind, CredentialID: cred.ID, FamilyID: family, ParentID: parent.ID,
		Scope: grantScope, CertThumbprint: parent.CertThumbprint}
	rs := base
	rs.Kind, rs.TTL = core.TokenRefresh, m.cfg.RefreshTokenTTL
	refresh, rt := m.svc.Tokens.NewToken(rs)
	as := base
	as.Kind, as.TTL, as.ParentID, as.Scope = core.TokenAccess, m.cfg.AccessTokenTTL, rt.ID, accessScope
	access, at := m.svc.Tokens.NewToken(as)
	ev := m.event(r, core.AuditEvent{Action: action, OrgID: cred.OrgID, PrincipalID: p.ID, Subject: at.ID,
		Reason: reason + " for key " + cred.Lookup + "; refresh " + rt.ID})
	if err := m.svc.Tokens.Commit(ctx, []core.Token{rt, at}, []core.AuditEvent{ev}); err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expiresIn(at, now), RefreshToken: refresh}, nil
}

// refreshGrant rotates a refresh token under the core's exchange rule
// (core.Tokens.ExchangeRefresh): at most two exchanges inside the grace
// window, reuse after it revokes the whole family.
func (m *Module) refreshGrant(r *http.Request, f Form, client ClientCredentials, hasClient bool) (tokenResponse, errContext, error) {
	ctx := r.Context()
	value := f.get("refresh_token")
	if value == "" {
		return tokenResponse{}, ctxGrant, errInvalidRequest("refresh_token is required")
	}
	var clientCred core.Credential
	if hasClient {
		c, _, err := m.authenticateKey(ctx, r, GrantRefresh, client.ID, client.Secret, "client authentication")
		if err != nil {
			return tokenResponse{}, ctxClient, err
		}
		clientCred = c
	}
	grantFail := func(t core.Token, reason string, err error) (tokenResponse, errContext, error) {
		m.audit(ctx, r, core.AuditEvent{Action: core.AuditAuthFailure, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
			Outcome: core.OutcomeFailure, Reason: "refresh grant: " + reason})
		return tokenResponse{}, ctxGrant, err
	}
	t, err := m.svc.Tokens.Lookup(ctx, core.TokenRefresh, value)
	if err != nil {
		switch core.KindOf(err) {
		case core.KindUnauthenticated, core.KindRevoked, core.KindExpired:
			return grantFail(t, core.ReasonOf(err), err)
		}
		return tokenResponse{}, ctxGrant, err
	}
	if hasClient && clientCred.ID != t.CredentialID {
		return grantFail(t, "refresh token presented by another client", core.E(core.KindUnauthenticated, "refresh token was issued to another client"))
	}
	if err := core.CheckCertBinding(t, r.TLS); err != nil {
		return grantFail(t, core.ReasonOf(err), err)
	}
	cred, err := m.svc.Store.GetCredential(ctx, t.CredentialID)
	if err != nil && core.KindOf(err) != core.KindNotFound {
		return tokenResponse{}, ctxGrant, err
	}
	if err != nil || !cred.Active(m.svc.Clock.Now()) {
		return grantFail(t, "access key deleted", core.E(core.KindRevoked, "the access key of this grant was deleted"))
	}
	p, err := m.svc.Store.GetPrincipal(ctx, t.PrincipalID)
	if err != nil {
		return tokenResponse{}, ctxGrant, err
	}
	if p.Disabled {
		return grantFail(t, "principal disabled", core.E(core.KindRevoked, "the access key of this grant is disabled"))
	}
	// Decided before the exchange: a refused scope leaves the refresh token usable.
	scope, named, err := m.refreshScope(ctx, f, p, t.Scope)
	if err != nil {
		return tokenResponse{}, ctxGrant, err
	}
	ex, err := m.svc.Tokens.ExchangeRefresh(ctx, t, m.cfg.RefreshGrace)
	switch {
	case ex.Reused:
		m.audit(ctx, r, ex.ReuseEvent(t))
		return tokenResponse{}, ctxGrant, err
	case core.KindOf(err) == core.KindReplayed, core.KindOf(err) == core.KindUnauthenticated:
		return grantFail(t, core.ReasonOf(err), err)
	case err != nil:
		return tokenResponse{}, ctxGrant, err
	}
	reason := "refresh grant"
	if ex.Retry {
		reason = "refresh grant (concurrent refresh inside the grace window)"
	}
	resp, err := m.issuePair(ctx, r, cred, p, t, scope, t.Scope, core.AuditRenew, reason)
	return withScope(resp, scope, named), ctxGrant, err
}
