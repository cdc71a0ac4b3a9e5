package console

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// CookieName is the session cookie. The __Host- prefix makes the browser
// keep it only when it is Secure, has Path=/ and names no Domain, so no
// other host (a sibling subdomain) can set or shadow it.
const CookieName = httpapi.ConsoleCookie

// CSRFHeader carries the session's CSRF token on every state-changing
// admin request.
const CSRFHeader = "X-CSRF-Token"

// csrfPurpose separates the CSRF tokens' keyed hash from every other use
// of the master key.
const csrfPurpose = "console-csrf"

// maxSignInBody bounds the sign-in request (a key and a secret).
const maxSignInBody = 8 << 10

// Granter issues a session's access token: the OAuth2 family's password
// grant (oauth2.Module.SignIn), under its failed-authentication limits and
// audit. Errors are core errors: Unauthenticated for wrong credentials
// (whatever was wrong), RateLimited when the limits refuse the attempt.
// It returns the token's value and its record.
type Granter interface {
	SignIn(r *http.Request, key, secret string) (string, core.Token, error)
}

// The services the package needs, as small interfaces.
type (
	tokens interface {
		Lookup(ctx context.Context, kind core.TokenKind, value string) (core.Token, error)
		Revoke(ctx context.Context, id string) error
	}
	auditor interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	// keyring computes the CSRF tokens (core.Keyring): under the active
	// master key, and under the previous ones during a rotation.
	keyring interface {
		Hash(purpose, value string) []byte
		HashKeyed(purpose, value string) ([]byte, string)
		HashUnder(id, purpose, value string) ([]byte, bool)
		OthersThan(id string) []string
	}
)

var (
	_ tokens  = (*core.Tokens)(nil)
	_ auditor = (*core.Auditor)(nil)
	_ keyring = (*core.Keyring)(nil)
)

// signInRequest is the body of POST /console/session.
type signInRequest struct {
	AccessKey string `json:"access_key"`
	Secret    string `json:"secret"`
}

// SessionInfo is the answer of sign-in and of GET /console/session: who
// is signed in, the CSRF token the page sends back, and what the page may
// offer.
type SessionInfo struct {
	PrincipalID string    `json:"principal_id"`
	OrgID       string    `json:"org_id"`
	Kind        string    `json:"kind"`
	ExpiresAt   time.Time `json:"expires_at"`
	CSRFToken   string    `json:"csrf_token"`
	// ReadOnly: the principal is no admin; the page offers no write
	// actions (and the admin API refuses them).
	ReadOnly bool `json:"read_only"`
	// Routes are the admin API's routes ("GET /admin/stats") the
	// principal's kind is granted: the page shows the sections whose
	// routes this server serves to it.
	Routes []string `json:"routes"`
	// TailIntervalMS is the audit live tail's poll interval.
	TailIntervalMS int64 `json:"tail_interval_ms"`
}

// csrfToken is the CSRF token of the session whose access token is value.
func (m *Module) csrfToken(value string) string {
	return base64.RawURLEncoding.EncodeToString(m.d.Keys.Hash(csrfPurpose, value))
}

// validCSRF compares got with the session's CSRF token in constant time,
// under the active master key and, during a rotation, the previous ones.
func (m *Module) validCSRF(value, got string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(got)
	if err != nil || len(got) > 128 {
		return false
	}
	want, active := m.d.Keys.HashKeyed(csrfPurpose, value)
	ok := subtle.ConstantTimeCompare(want, b) == 1
	for _, id := range m.d.Keys.OthersThan(active) { // not Fallbacks: the active key may have changed since
		if want, known := m.d.Keys.HashUnder(id, csrfPurpose, value); known {
			ok = subtle.ConstantTimeCompare(want, b) == 1 || ok
		}
	}
	return ok
}

// safeMethod: methods that change nothing need no CSRF token.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// sessionToken is the session cookie's value, "" without one.
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) > 4096 {
		return ""
	}
	return c.Value
}

// Bearer implements adminapi.Sessions: the access token of r's session
// cookie, "" when r has an Authorization header (it wins) or no cookie.
// A state-changing request must carry the session's CSRF token and must
// not come from another site; otherwise it is refused (audited) with a
// core Forbidden error.
func (m *Module) Bearer(r *http.Request) (string, error) {
	if r.Header.Get("Authorization") != "" {
		return "", nil
	}
	value := sessionToken(r)
	if value == "" {
		return "", nil
	}
	if safeMethod(r.Method) {
		return value, nil
	}
	if err := m.checkUnsafe(r, value); err != nil {
		return "", err
	}
	return value, nil
}

// checkUnsafe refuses a state-changing request of the session value
// without its CSRF token, or from another site.
func (m *Module) checkUnsafe(r *http.Request, value string) error {
	reason := ""
	switch {
	case r.Header.Get("Sec-Fetch-Site") == "cross-site":
		reason = "cross-site request"
	case r.Header.Get(CSRFHeader) == "":
		reason = "no " + CSRFHeader
	case !m.validCSRF(value, r.Header.Get(CSRFHeader)):
		reason = "wrong " + CSRFHeader
	default:
		return nil
	}
	ev := core.AuditEvent{Action: core.AuditForbidden, Outcome: core.OutcomeFailure, Subject: r.Method + " " + core.LogSafe(r.URL.Path, 128),
		Reason: "console session: " + reason}
	if t, err := m.d.Tokens.Lookup(r.Context(), core.TokenAccess, value); err == nil {
		ev.OrgID, ev.PrincipalID = t.OrgID, t.PrincipalID
	}
	m.audit(r, ev)
	return core.E(core.KindForbidden, "state-changing console requests need the session's "+CSRFHeader+" header")
}

func (m *Module) audit(r *http.Request, e core.AuditEvent) {
	e.Protocol, e.RemoteAddr, e.RequestID = "console", m.d.Addr.IP(r), httpapi.RequestID(r)
	if e.At.IsZero() {
		e.At = m.d.Clock.Now()
	}
	_ = m.d.Audit.Record(r.Context(), e) // the Auditor logs its own failures
}

// errSignIn is the one answer to wrong credentials, whatever was wrong.
var errSignIn = core.E(core.KindUnauthenticated, "invalid access key or secret")

// signIn serves POST /console/session: the password grant, then the
// cookie. Only a JSON body is accepted, so a cross-site HTML form cannot
// sign a victim's browser in to the attacker's account.
func (m *Module) signIn(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		m.writeError(w, r, core.E(core.KindInvalidInput, "Content-Type must be application/json"))
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		m.audit(r, core.AuditEvent{Action: core.AuditForbidden, Outcome: core.OutcomeFailure, Subject: "POST " + RouteSession,
			Reason: "console sign-in from another site (Sec-Fetch-Site " + core.LogSafe(site, 32) + ")"})
		m.writeError(w, r, core.E(core.KindForbidden, "sign-in must come from the console's own page"))
		return
	}
	b, err := httpapi.ReadBody(w, r, maxSignInBody)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	var in signInRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		m.writeError(w, r, core.E(core.KindInvalidInput, "body must be {\"access_key\": ..., \"secret\": ...}"))
		return
	}
	value, t, err := m.d.Grant.SignIn(r, in.AccessKey, in.Secret)
	switch core.KindOf(err) {
	case core.KindUnauthenticated, core.KindRevoked, core.KindExpired:
		m.writeError(w, r, errSignIn)
		return
	case core.KindRateLimited:
		m.writeError(w, r, &core.Error{Kind: core.KindRateLimited, Reason: "too many failed sign-ins; try again later", RetryAfter: core.RetryAfterOf(err)})
		return
	}
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	exp := m.d.Clock.Now().Add(time.Hour)
	if t.ExpiresAt != nil {
		exp = *t.ExpiresAt
	}
	http.SetCookie(w, m.cookie(value, exp))
	httpapi.WriteJSON(w, http.StatusOK, m.info(t, value))
}

// session serves GET /console/session: the signed-in session's info (the
// page reads its CSRF token again after a reload), 401 without one.
func (m *Module) session(w http.ResponseWriter, r *http.Request) {
	value := sessionToken(r)
	if value == "" {
		m.writeError(w, r, core.E(core.KindUnauthenticated, "not signed in"))
		return
	}
	t, err := m.d.Tokens.Lookup(r.Context(), core.TokenAccess, value)
	if err != nil {
		if k := core.KindOf(err); k == core.KindUnauthenticated || k == core.KindRevoked || k == core.KindExpired {
			http.SetCookie(w, m.cookie("", time.Time{}))
			err = core.E(core.KindUnauthenticated, "the session has ended; sign in again")
		}
		m.writeError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, m.info(t, value))
}

// signOut serves POST /console/session/delete and DELETE /console/session:
// the session's access token is revoked (as RFC 7009 revocation does) and
// the cookie cleared. It needs the CSRF token like any state change.
func (m *Module) signOut(w http.ResponseWriter, r *http.Request) {
	value := sessionToken(r)
	if value != "" {
		if err := m.checkUnsafe(r, value); err != nil {
			m.writeError(w, r, err)
			return
		}
		t, err := m.d.Tokens.Lookup(r.Context(), core.TokenAccess, value)
		switch k := core.KindOf(err); {
		case err == nil:
			if err := m.d.Tokens.Revoke(r.Context(), t.ID); err != nil {
				m.writeError(w, r, err)
				return
			}
			m.audit(r, core.AuditEvent{Action: core.AuditRevoke, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
				Outcome: core.OutcomeSuccess, Reason: "console sign-out: access token revoked"})
		case k == core.KindUnauthenticated || k == core.KindRevoked || k == core.KindExpired:
			// Already ended: clearing the cookie is all there is to do.
		default:
			m.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, m.cookie("", time.Time{}))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// cookie is the session cookie holding value until exp; "" clears it.
func (m *Module) cookie(value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
		return c
	}
	c.Expires = exp.UTC()
	c.MaxAge = max(int(exp.Sub(m.d.Clock.Now())/time.Second), 1)
	return c
}

func (m *Module) info(t core.Token, value string) SessionInfo {
	in := SessionInfo{PrincipalID: t.PrincipalID, OrgID: t.OrgID, Kind: string(t.PrincipalKind), CSRFToken: m.csrfToken(value),
		ReadOnly: t.PrincipalKind != core.PrincipalAdmin, Routes: m.routes(t.PrincipalKind), TailIntervalMS: m.cfg.TailInterval.Milliseconds()}
	if t.ExpiresAt != nil {
		in.ExpiresAt = t.ExpiresAt.UTC()
	}
	return in
}

func (m *Module) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteAdminError(w, r, m.d.Log, "console", err)
}
