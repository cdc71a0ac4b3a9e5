package apstrata

import (
	"context"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/scheme"
)

// callerKind is who authenticated.
type callerKind int

const (
	anonymous callerKind = iota
	owner
	user
	device
)

func (k callerKind) String() string {
	return [...]string{"anonymous", "owner", "user", "device"}[k]
}

// caller is the authenticated party of a request.
type caller struct {
	kind      callerKind
	orgID     string
	principal core.Principal
	login     string // user or device id; "" for the owner
	// Set when the request authenticated with a token instead of a signature.
	token       *core.Token
	tokenCookie bool
}

// account is the owner's signing credential named by the path's authKey.
func (m *Module) account(q *request) (core.Credential, error) {
	c, err := m.d.Credentials.Find(q.r.Context(), core.CredSigningKey, q.authKey)
	if err != nil {
		if k := core.KindOf(err); k == core.KindUnauthenticated || k == core.KindRevoked || k == core.KindExpired {
			return c, authFailure("Invalid credentials", "unknown or revoked authKey")
		}
		return c, err
	}
	return c, nil
}

// memberLookup is the credential lookup of a user or device of an account.
func memberLookup(authKey, id string) string { return authKey + "/" + id }

// member finds a user or device of the account by id.
func (m *Module) member(q *request, id string) (core.Credential, core.Principal, error) {
	c, err := m.d.Credentials.Find(q.r.Context(), core.CredPassword, memberLookup(q.authKey, id))
	if err != nil {
		return c, core.Principal{}, err
	}
	p, err := m.d.Principals.GetPrincipal(q.r.Context(), c.PrincipalID)
	if err != nil {
		return c, p, err
	}
	if p.Disabled {
		return c, p, core.E(core.KindUnauthenticated, "principal disabled")
	}
	return c, p, nil
}

func kindOf(p core.Principal) callerKind {
	if p.Kind == core.PrincipalDevice {
		return device
	}
	return user
}

// ParseBearerToken decodes "Authorization: Bearer base64(authKey:id:token)".
func ParseBearerToken(h string) (authKey, id, token string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(rest)); err != nil {
			return "", "", "", false
		}
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// tokenCookieName is the cookie that carries a token issued with apsdb.tokenInCookie.
const tokenCookieName = "apsdb.authToken"

// authenticate resolves the caller and, for an authenticated one, checks
// its API subscription (Deps.Access) for the action.
func (m *Module) authenticate(q *request) (caller, error) {
	// Observed as the registry observes the scheme for the gateway; a
	// request that presents no credentials is not an authentication.
	var o scheme.Observation // the zero one observes nothing
	if !q.grant && (&apsScheme{m: m}).Presented(q.r) {
		var ctx context.Context
		ctx, o = scheme.Observe(q.r.Context(), m.d.Observer, m.d.Tracer, Family, SchemeName)
		q.r = q.r.WithContext(ctx)
	}
	c, err := m.identify(q)
	o.Done(c.orgID, outcomeOf(err))
	if err != nil || c.kind == anonymous || m.d.Access == nil {
		return c, err
	}
	a := core.Access{OrgID: c.orgID, PrincipalID: c.principal.ID, Method: q.r.Method, Path: q.r.URL.Path, Scheme: "apstrata", Kind: c.principal.Kind}
	if err := m.d.Access.Allow(q.r.Context(), a); err != nil {
		return caller{}, err
	}
	return c, nil
}

// identify resolves the caller: bearer header, token mode, signature,
// or anonymous when the request carries none of them.
func (m *Module) identify(q *request) (caller, error) {
	if h := q.r.Header.Get("Authorization"); h != "" {
		authKey, id, token, ok := ParseBearerToken(h)
		if !ok {
			return caller{}, authFailure("Invalid credentials", "malformed Authorization header")
		}
		if authKey != q.authKey {
			return caller{}, authFailure("Invalid credentials", "bearer authKey differs from the path's")
		}
		return m.tokenCaller(q, id, token, false)
	}
	mode, _ := q.get(pMode)
	if strings.EqualFold(mode, "token") {
		id, _ := q.get(pID)
		if id != "" {
			var err error
			if id, err = m.literalLogin(q, pID, id); err != nil {
				return caller{}, err
			}
		}
		token, _ := q.get(pToken)
		fromCookie := false
		if token == "" {
			if ck, err := q.r.Cookie(tokenCookieName); err == nil {
				token, fromCookie = ck.Value, true
			}
		}
		if id == "" || token == "" {
			return caller{}, authFailure("Token authentication needs apsws.id and apsdb.authToken", "token mode without id or token")
		}
		return m.tokenCaller(q, id, token, fromCookie)
	}
	if _, signed := q.get(pSig); signed {
		return m.signatureCaller(q, mode)
	}
	return caller{kind: anonymous}, nil
}

// tokenCaller authenticates a token of the user or device id.
func (m *Module) tokenCaller(q *request, id, value string, fromCookie bool) (caller, error) {
	if !m.d.ClientAddr.Secure(q.r) {
		return caller{}, fail(CodeInvalidRequest, "Token-based authentication is enabled under secure (https) connections only.")
	}
	acct, err := m.account(q)
	if err != nil {
		return caller{}, err
	}
	// The token is checked before the id, so an unauthenticated caller
	// cannot learn which users and devices exist.
	tok, err := m.d.Tokens.Lookup(q.r.Context(), core.TokenApstrata, value)
	if err != nil {
		return caller{}, authFailure("Invalid or expired token", err.Error())
	}
	_, p, err := m.member(q, id)
	if err != nil {
		if k := core.KindOf(err); k == core.KindUnauthenticated || k == core.KindRevoked || k == core.KindExpired {
			return caller{}, authFailure("Invalid or expired token", "token presented for unknown or disabled id "+id)
		}
		return caller{}, err
	}
	if tok.PrincipalID != p.ID || tok.OrgID != acct.OrgID {
		return caller{}, authFailure("Invalid or expired token", "token of another principal")
	}
	if tok.Binding != "" {
		origin, ok := refererOrigin(q.r.Header.Get("Referer"))
		if !ok || origin != tok.Binding {
			return caller{}, authFailure("The token is bound to another referrer", "referrer "+q.r.Header.Get("Referer")+" does not match the token's binding")
		}
	}
	return caller{kind: kindOf(p), orgID: acct.OrgID, principal: p, login: id, token: &tok, tokenCookie: fromCookie}, nil
}

// requestTime parses apsws.time, in seconds or milliseconds.
func requestTime(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	if n > 100_000_000_000 { // later than 5138 in seconds: it is milliseconds
		return time.UnixMilli(n), true
	}
	return time.Unix(n, 0), true
}

// signatureCaller verifies a default or simple signature by the owner
// (no apsws.user) or a user or device (apsws.user, or apsws.id).
func (m *Module) signatureCaller(q *request, mode string) (caller, error) {
	sig, _ := q.get(pSig)
	ts, _ := q.get(pTime)
	t, ok := requestTime(ts)
	if !ok {
		return caller{}, authFailure("Invalid signature", "missing or malformed apsws.time")
	}
	now := m.d.Clock.Now()
	if d := now.Sub(t); d > m.cfg.TimeWindow || d < -m.cfg.TimeWindow {
		return caller{}, authFailure("Invalid signature", "apsws.time outside the allowed window")
	}
	name := pUser
	login, hasUser := q.get(pUser)
	if !hasUser {
		name = pID
		login, hasUser = q.get(pID)
	}
	hasUser = hasUser && login != ""
	if hasUser {
		var err error
		if login, err = m.literalLogin(q, name, login); err != nil {
			return caller{}, err
		}
	}
	// The owner's signing secret and each user's or device's password are
	// guessed apart: the limits count them apart.
	att := core.Attempt{Kind: core.CredSigningKey, Lookup: q.authKey, Addr: q.remote, Family: Family, Scheme: SchemeName}
	if hasUser {
		att.Kind, att.Lookup = core.CredPassword, memberLookup(q.authKey, login)
	}
	if q.grant {
		att.Scheme = GrantToken
	}
	var c caller
	err := m.d.Guard.Verify(q.r.Context(), att, func() (err error) {
		c, err = m.signer(q, mode, sig, ts, login, hasUser)
		return err
	})
	if err != nil {
		return caller{}, err
	}
	// Each signature is good once, for as long as its time could still pass.
	if err := m.d.Replay.Remember(q.r.Context(), "apstrata-sig", q.authKey+":"+strings.ToLower(sig), t.Add(m.cfg.TimeWindow)); err != nil {
		return caller{}, err
	}
	return c, nil
}

// literalLogin is the login the client meant. It is the decoded value of
// the first parameter called name, unless no user or device has that login
// and the raw value carried a literal "+" (the PHP SDK puts apsws.user into
// the URL unencoded, so "jane+1@x" is decoded as "jane 1@x"): then it is
// the value with "+" kept, and that parameter's value becomes it, so the
// signature is checked over what the SDK signed. An existing decoded login
// always wins; the Java SDK's "%2B" decodes to "+" and needs no second try.
func (m *Module) literalLogin(q *request, name, login string) (string, error) {
	i := slices.IndexFunc(q.params, func(p Pair) bool { return p.Name == name })
	if i < 0 || i >= len(q.literal) || q.literal[i] == "" || q.literal[i] == login {
		return login, nil
	}
	_, err := m.d.Credentials.Find(q.r.Context(), core.CredPassword, memberLookup(q.authKey, login))
	if err == nil || core.KindOf(err) != core.KindUnauthenticated {
		return login, nil // known (or revoked, expired, unreachable: signer says so)
	}
	lit := q.literal[i]
	for j := range q.params {
		if q.params[j].Name == name && q.params[j].Value == login {
			q.params[j].Value = lit
		}
	}
	return lit, nil
}

// signer finds the signing secret of the owner or of the user or device
// login and checks the signature with it. Every way it can fail for a
// wrong guess is an authFailure, which the limits count.
func (m *Module) signer(q *request, mode, sig, ts, login string, hasUser bool) (caller, error) {
	acct, err := m.account(q)
	if err != nil {
		return caller{}, err
	}
	c := caller{kind: owner, orgID: acct.OrgID}
	var key string
	if hasUser {
		cred, p, err := m.member(q, login)
		if err != nil {
			if k := core.KindOf(err); k == core.KindUnauthenticated || k == core.KindRevoked || k == core.KindExpired {
				return caller{}, authFailure("Invalid signature", "unknown or disabled user or device "+login)
			}
			return caller{}, err
		}
		pw, err := m.d.Credentials.Open(cred)
		if err != nil {
			return caller{}, err
		}
		key = PasswordKey(string(pw))
		c = caller{kind: kindOf(p), orgID: acct.OrgID, principal: p, login: login}
	} else {
		secret, err := m.d.Credentials.Open(acct)
		if err != nil {
			return caller{}, err
		}
		key = string(secret)
		if c.principal, err = m.d.Principals.GetPrincipal(q.r.Context(), acct.PrincipalID); err != nil {
			return caller{}, err
		}
	}
	if !m.signatureMatches(q, mode, sig, ts, login, key, c.kind) {
		return caller{}, authFailure("Invalid signature", "signature mismatch")
	}
	return c, nil
}

// signatureMatches tries every form an SDK may have signed the request in.
func (m *Module) signatureMatches(q *request, mode, sig, ts, login, key string, kind callerKind) bool {
	if strings.EqualFold(mode, "simple") {
		if kind == owner {
			return sigEqual(sig, SimpleSignature(ts, q.authKey, q.action, key))
		}
		// Java hashes the login, PHP the authKey.
		return sigEqual(sig, SimpleSignature(ts, login, q.action, key)) || sigEqual(sig, SimpleSignature(ts, q.authKey, q.action, key))
	}
	methods := []string{q.r.Method}
	if q.r.Method != "POST" {
		methods = append(methods, "POST") // the Java SDK always signs POST
	}
	rawUser := []bool{false}
	if _, ok := q.get(pUser); ok && Encode(login) != login {
		rawUser = append(rawUser, true) // the Java SDK leaves apsws.user unencoded
	}
	for _, base := range m.serviceURLs(q) {
		for _, meth := range methods {
			for _, raw := range rawUser {
				if sigEqual(sig, DefaultSignature(key, StringToSign(meth, base, q.authKey, q.action, q.params, raw))) {
					return true
				}
			}
		}
	}
	return false
}

// serviceURLs are the service URLs a client may have signed with: the
// configured ones and this server's own (httpapi.Origin: the Host header
// only when it names this server, so a signature made for another
// service is not accepted by sending its Host) with the request's path
// up to /{authKey}/{action} (/apsdb/rest on the built-in routes; a
// gateway route's path otherwise).
func (m *Module) serviceURLs(q *request) []string {
	own := m.d.Origin.Base(q.r) + servicePath(q.r.URL.Path)
	out := []string{own}
	for _, u := range m.cfg.ServiceURLs {
		if u = strings.TrimRight(u, "/"); u != own {
			out = append(out, u)
		}
	}
	return out
}

// servicePath is path without its last two segments (/{authKey}/{action}).
func servicePath(path string) string {
	for range 2 {
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			path = path[:i]
		}
	}
	return path
}

// pathTarget splits the last two segments of path, /{authKey}/{action},
// off a request that did not come through the module's own routes.
func pathTarget(path string) (authKey, action string, ok bool) {
	rest, action, found := cutLast(path)
	if !found {
		return "", "", false
	}
	_, authKey, found = cutLast(rest)
	return authKey, action, found && authKey != "" && action != ""
}

func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// refererOrigin returns scheme://host[:port] of an absolute http(s) Referer.
func refererOrigin(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}
