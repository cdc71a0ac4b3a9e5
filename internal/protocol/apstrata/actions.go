package apstrata

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// generateParams are the parameters GenerateToken accepts besides the
// common apsws.* ones.
var generateParams = map[string]bool{pExpires: true, pLifetime: true, pBindReferrer: true, pInCookie: true, pRunAs: true, pID: true}

// commonParams are accepted by every action.
func commonParam(name string) bool { return strings.HasPrefix(name, "apsws.") }

func (m *Module) generateToken(q *request) ([]field, error) {
	ctx := q.r.Context()
	_, signed := q.get(pSig)
	mode, _ := q.get(pMode)
	if !signed && !strings.EqualFold(mode, "token") && q.r.Header.Get("Authorization") == "" {
		m.auditFailure(q, "", q.authKey, fail(CodeInvalidRequest, "anonymous"))
		return nil, fail(CodeInvalidRequest, "GenerateToken must not be called anonymously")
	}
	if !m.d.ClientAddr.Secure(q.r) {
		err := fail(CodeInvalidRequest, "Token Generation is not allowed over non-secure connections.")
		m.auditFailure(q, "", q.authKey, err)
		return nil, err
	}
	for _, p := range q.params {
		if !commonParam(p.Name) && !generateParams[p.Name] {
			return nil, fail(CodeInvalidParameter, "The parameter ["+p.Name+"] is not allowed in GenerateToken")
		}
	}
	c, err := m.authenticate(q)
	if err != nil {
		m.auditFailure(q, c.orgID, q.authKey, err)
		return nil, err
	}
	if c.token != nil {
		// A token may be renewed, not used to mint another: after its lifetime a signature is required.
		return nil, fail(CodeInvalidRequest, "GenerateToken must be signed; use RenewToken to renew a token")
	}
	runAs, hasRunAs := q.get(pRunAs)
	target := c
	switch {
	case c.kind == owner && !hasRunAs:
		err := fail(CodeInvalidRequest, "Token-based authentication is not allowed for account owners")
		m.auditFailure(q, c.orgID, q.authKey, err)
		return nil, err
	case c.kind != owner && hasRunAs:
		return nil, fail(CodeInvalidParameter, "Invalid parameter apsdb.runAs")
	case hasRunAs:
		_, p, err := m.member(q, runAs)
		if err != nil {
			if core.KindOf(err) == core.KindUnauthenticated {
				return nil, fail(CodeInvalidIdentifier, "Unknown user or device ["+runAs+"]")
			}
			return nil, err
		}
		if err := m.authorize(q, c, core.ActTokensIssueAs, core.Target{OrgID: p.OrgID, PrincipalID: p.ID}, runAs); err != nil {
			return nil, fail(CodeInvalidParameter, "Invalid parameter apsdb.runAs")
		}
		target = caller{kind: kindOf(p), orgID: c.orgID, principal: p, login: runAs}
	}
	if id, ok := q.get(pID); ok && id != target.login {
		return nil, fail(CodeInvalidIdentifier, "The identifier ["+id+"] does not match the authenticated user or device")
	}

	bind, err := boolParam(q, pBindReferrer, target.kind == user)
	if err != nil {
		return nil, err
	}
	inCookie, err := boolParam(q, pInCookie, false)
	if err != nil {
		return nil, err
	}
	if target.kind == device && inCookie {
		return nil, fail(CodeInvalidParameter, "The parameter ["+pInCookie+"] is not allowed in GenerateToken")
	}
	if target.kind == user && !bind && m.cfg.EnforceBindReferrer {
		return nil, fail(CodeInvalidParameter, "Account has enforced binding to referrer when generating tokens")
	}
	expires, lifetime, err := m.lifetimes(q, target.kind)
	if err != nil {
		return nil, err
	}

	binding := ""
	if ref := q.r.Header.Get("Referer"); ref != "" && target.kind == user {
		origin, ok := refererOrigin(ref)
		if !ok {
			return nil, fail(CodeMalformedReferer, "Invalid originating referrer from the Referer header ["+ref+"]")
		}
		if bind {
			binding = origin
		}
	}
	if inCookie && q.r.Header.Get("Referer") == "" {
		return nil, fail(CodeInvalidRequest, "Token-based authentication with cookies requires a referrer to be set")
	}
	n, err := m.d.TokenStore.CountActiveTokens(ctx, target.principal.ID, core.TokenApstrata, m.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	if n >= m.cfg.TokenLimit {
		err := fail(CodeTooManyTokens, "The total number of tokens must not exceed ["+strconv.Itoa(m.cfg.TokenLimit)+"]")
		m.auditFailure(q, c.orgID, target.login, err)
		return nil, err
	}
	value, tok, err := m.d.Tokens.Issue(ctx, core.TokenSpec{
		Kind: core.TokenApstrata, OrgID: target.orgID, PrincipalID: target.principal.ID, Binding: binding,
		TTL: expires, RenewableFor: lifetime, Value: newTokenValue(),
	})
	if err != nil {
		return nil, err
	}
	// Count again after issuing: concurrent requests may each have seen
	// room for one more; the ones that overshoot take their token back.
	if n, err := m.d.TokenStore.CountActiveTokens(ctx, target.principal.ID, core.TokenApstrata, m.d.Clock.Now()); err != nil || n > m.cfg.TokenLimit {
		if rerr := m.d.Tokens.Revoke(ctx, tok.ID); rerr != nil {
			return nil, rerr
		}
		if err != nil {
			return nil, err
		}
		return nil, fail(CodeTooManyTokens, "The total number of tokens must not exceed ["+strconv.Itoa(m.cfg.TokenLimit)+"]")
	}
	m.audit(q, core.AuditIssue, core.OutcomeSuccess, target.orgID, target.principal.ID, target.login+" "+tok.ID, "GenerateToken by "+c.kind.String())
	if inCookie {
		m.setTokenCookie(q, value, expires)
		value = ""
	}
	return tokenResult(value, expires, lifetime), nil
}

// tokenResult is the result element of GenerateToken and RenewToken; an
// eternal token shows -1 for both durations, a token sent as a cookie no value.
func tokenResult(value string, expires, lifetime time.Duration) []field {
	secs := func(d time.Duration) string {
		if d == 0 {
			return "-1"
		}
		return seconds(int64(math.Ceil(d.Seconds())))
	}
	var out []field
	if value != "" {
		out = append(out, field{"apsdb.authToken", value})
	}
	return append(out, field{"apsdb.tokenExpires", secs(expires)}, field{"apsdb.tokenLifetime", secs(lifetime)})
}

func (m *Module) setTokenCookie(q *request, value string, expires time.Duration) {
	ck := &http.Cookie{
		Name: tokenCookieName, Value: value, Path: "/apsdb/rest/" + q.authKey + "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	}
	if expires > 0 {
		ck.MaxAge = int(expires.Seconds())
	}
	q.setCookie = ck
}

// newTokenValue is 128 random bits as 32 upper-case hex digits, the form of the vendor's tokens.
func newTokenValue() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

func boolParam(q *request, name string, def bool) (bool, error) {
	v, ok := q.get(name)
	if !ok {
		return def, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fail(CodeInvalidParameter, "The parameter ["+name+"] can only be [true] or [false]")
}

// lifetimes applies the document's rules: defaults, maxima, expires <=
// lifetime; a device that passes neither gets an eternal token (0, 0).
func (m *Module) lifetimes(q *request, kind callerKind) (expires, lifetime time.Duration, err error) {
	ev, hasE := q.get(pExpires)
	lv, hasL := q.get(pLifetime)
	if kind == device && !hasE && !hasL {
		return 0, 0, nil
	}
	expires, lifetime = m.cfg.DefaultTokenExpires, m.cfg.DefaultTokenLifetime
	parse := func(name, v string) (time.Duration, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fail(CodeInvalidParameterValue, "The parameter ["+name+"] is not a valid number.")
		}
		if n <= 0 {
			return 0, fail(CodeInvalidParameterValue, "The parameter ["+name+"] can't be a zero or a negative number.")
		}
		if n > math.MaxInt32 {
			n = math.MaxInt32 // far beyond any maximum; keeps the arithmetic safe
		}
		return time.Duration(n) * time.Second, nil
	}
	if hasE {
		if expires, err = parse(pExpires, ev); err != nil {
			return 0, 0, err
		}
	}
	if hasL {
		if lifetime, err = parse(pLifetime, lv); err != nil {
			return 0, 0, err
		}
	}
	if lifetime > m.cfg.MaxTokenLifetime {
		return 0, 0, fail(CodeInvalidParameterValue, "The parameter [apsdb.Lifetime] must be equal to or less than ["+seconds(int64(m.cfg.MaxTokenLifetime.Seconds()))+"]")
	}
	if expires > m.cfg.MaxTokenExpires {
		return 0, 0, fail(CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires] must be equal to or less than ["+seconds(int64(m.cfg.MaxTokenExpires.Seconds()))+"]")
	}
	if expires > lifetime {
		return 0, 0, fail(CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires: "+seconds(int64(expires.Seconds()))+"] must be equal to or less than [apsdb.tokenLifetime: "+seconds(int64(lifetime.Seconds()))+"]")
	}
	return expires, lifetime, nil
}

// tokenCaller authenticates an action that works on a token.
func (m *Module) tokenAction(q *request) (caller, error) {
	c, err := m.authenticate(q)
	if err != nil {
		m.auditFailure(q, c.orgID, q.authKey, err)
		return c, err
	}
	if c.kind == anonymous {
		err := fail(CodeInvalidRequest, q.action+" must not be called anonymously")
		m.auditFailure(q, "", q.authKey, err)
		return c, err
	}
	return c, nil
}

func (m *Module) renewToken(q *request) ([]field, error) {
	ctx := q.r.Context()
	c, err := m.tokenAction(q)
	if err != nil {
		return nil, err
	}
	if c.token == nil {
		return nil, fail(CodeInvalidRequest, "RenewToken needs token authentication (apsws.authMode=token or a bearer header)")
	}
	old := *c.token
	now := m.d.Clock.Now()
	var ttl, renewable time.Duration
	if old.ExpiresAt != nil { // not eternal
		if old.RenewableUntil == nil || !now.Before(*old.RenewableUntil) {
			return nil, fail(CodeInvalidRequest, "The token can no longer be renewed; generate a new one with a signature")
		}
		ttl = old.ExpiresAt.Sub(old.IssuedAt)
		if end := old.RenewableUntil.Sub(now); ttl > end {
			ttl = end // nothing renews past the lifetime
		}
		renewable = old.RenewableUntil.Sub(now)
	}
	// Issue first, then claim the renewal: if issuing fails the old token
	// is still renewable; if another renewal won the race, ours is withdrawn.
	value, tok, err := m.d.Tokens.Issue(ctx, core.TokenSpec{
		Kind: core.TokenApstrata, OrgID: old.OrgID, PrincipalID: old.PrincipalID, FamilyID: old.FamilyID, ParentID: old.ID,
		Binding: old.Binding, TTL: ttl, RenewableFor: renewable, Value: newTokenValue(),
	})
	if err != nil {
		return nil, err
	}
	first, err := m.d.TokenStore.MarkTokenRotated(ctx, old.ID, now)
	if err != nil || !first {
		if rerr := m.d.Tokens.Revoke(ctx, tok.ID); rerr != nil {
			return nil, rerr
		}
		if err != nil {
			return nil, err
		}
		return nil, authFailure("Invalid or expired token", "token already renewed")
	}
	// The old token stays usable for a few seconds, for requests in flight.
	overlap := now.Add(m.cfg.RenewOverlap)
	if old.ExpiresAt == nil || old.ExpiresAt.After(overlap) {
		if err := m.d.TokenStore.UpdateTokenExpiry(ctx, old.ID, overlap); err != nil {
			return nil, err
		}
	}
	m.audit(q, core.AuditRenew, core.OutcomeSuccess, old.OrgID, old.PrincipalID, c.login+" "+tok.ID, "renewed "+old.ID)
	if c.tokenCookie {
		m.setTokenCookie(q, value, ttl)
		value = ""
	}
	return tokenResult(value, ttl, renewable), nil
}

func (m *Module) deleteToken(q *request) ([]field, error) {
	ctx := q.r.Context()
	c, err := m.tokenAction(q)
	if err != nil {
		return nil, err
	}
	target := c.token
	if target == nil {
		// Signed: the token to delete is named by apsdb.authToken.
		v, ok := q.get(pToken)
		if !ok || v == "" {
			return nil, fail(CodeInvalidParameter, "The parameter ["+pToken+"] is required in DeleteToken")
		}
		tok, err := m.d.Tokens.Lookup(ctx, core.TokenApstrata, v)
		if err != nil && core.KindOf(err) != core.KindExpired {
			return nil, fail(CodeInvalidParameterValue, "The parameter ["+pToken+"] is not a valid token")
		}
		// Owners delete their account's tokens, users and devices their own
		// (the privilege table); a refusal looks like an unknown token.
		if err := m.authorize(q, c, core.ActTokensRevoke, core.Target{OrgID: tok.OrgID, PrincipalID: tok.PrincipalID}, tok.ID); err != nil {
			return nil, fail(CodeInvalidParameterValue, "The parameter ["+pToken+"] is not a valid token")
		}
		target = &tok
	}
	if err := m.d.Tokens.Revoke(ctx, target.ID); err != nil {
		return nil, err
	}
	m.audit(q, core.AuditRevoke, core.OutcomeSuccess, target.OrgID, target.PrincipalID, target.ID, "DeleteToken by "+c.kind.String())
	if c.tokenCookie {
		q.setCookie = &http.Cookie{Name: tokenCookieName, Value: "", Path: "/apsdb/rest/" + q.authKey + "/", MaxAge: -1, Secure: true, HttpOnly: true}
	}
	return nil, nil
}

func (m *Module) verifyCredentials(q *request) ([]field, error) {
	c, err := m.tokenAction(q)
	if err != nil {
		return nil, err
	}
	out := []field{{"type", c.kind.String()}}
	if c.login != "" {
		out = append(out, field{"apsws.id", c.login})
	}
	if c.token != nil && c.token.ExpiresAt != nil {
		left := c.token.ExpiresAt.Sub(m.d.Clock.Now())
		out = append(out, field{"apsdb.tokenExpires", seconds(int64(math.Ceil(left.Seconds())))})
	}
	return out, nil
}
