package apstrata

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// SchemeName is the name of the Apstrata scheme in routes, metrics, audit
// records and X-Authgate-Scheme: every form (default and simple
// signature, token parameters, bearer header).
const SchemeName = "apstrata"

// Family is the protocol family of the Apstrata scheme.
const Family = "apstrata"

// GrantToken is the token-granting actions (GenerateToken, RenewToken):
// the scheme label of their outcomes and limiter refusals. Such a request
// is observed once, as the grant, not also as an apstrata authentication.
const GrantToken = "apstrata-token"

// apsScheme authenticates an Apstrata request for any action, the way the
// vendor's SDKs sign or present it, with the check the token actions of
// the built-in /apsdb/rest module run (identify).
type apsScheme struct{ m *Module }

var _ scheme.Scheme = (*apsScheme)(nil)

// Schemes returns the adapter's schemes: apstrata.
func (m *Module) Schemes() []scheme.Scheme { return []scheme.Scheme{&apsScheme{m: m}} }

func (s *apsScheme) Name() string   { return SchemeName }
func (s *apsScheme) Family() string { return Family }

// credentialParams are the request parameters that carry Apstrata
// credentials: every apsws.* parameter and the token.
func credentialParam(name string) bool { return strings.HasPrefix(name, "apsws.") || name == pToken }

// Presented: an Apstrata bearer header (base64 of authKey:id:token), a
// credential parameter in the query, the token cookie, or a form POST
// without an Authorization header (its parameters, which may hold the
// signature, are in the body this cheap check does not read).
func (s *apsScheme) Presented(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		_, _, _, ok := ParseBearerToken(h)
		return ok
	}
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if name, _, _ := strings.Cut(part, "="); strings.HasPrefix(name, "apsws.") || name == pToken {
			return true
		}
	}
	if _, err := r.Cookie(tokenCookieName); err == nil {
		return true
	}
	return r.Method == http.MethodPost && httpapi.MediaType(r) == "application/x-www-form-urlencoded"
}

// NeedsBody: the parameters of a POST form body are signed (and may carry
// the signature or token), so every POST needs its body unless a bearer
// header authenticates it; a bearer POST with a form body needs it too,
// so that StripCredentials can take apsws.* parameters out of it.
func (s *apsScheme) NeedsBody(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.Header.Get("Authorization") == "" || httpapi.MediaType(r) == "application/x-www-form-urlencoded")
}

// Authenticate checks the request's default or simple signature (owner,
// user or device; every SDK's variant, fresh, single use, under the
// failed-authentication limiter), its token parameters or its bearer
// header, for the action named by the path's last segment. Anonymous
// requests are refused. Failures are audited.
func (s *apsScheme) Authenticate(ctx context.Context, req scheme.Request) (scheme.Caller, error) {
	r := req.HTTP.WithContext(ctx)
	ip := s.m.d.ClientAddr.IP(r)
	if req.Addr.IsValid() {
		ip = req.Addr.String()
	}
	authKey, action, ok := pathTarget(r.URL.Path)
	q := &request{r: r, id: uuid.NewString(), authKey: authKey, action: action, remote: ip}
	if v := r.URL.Query().Get(pResponseType); strings.EqualFold(v, "json") {
		q.asJSON = true // until the body's parameters are read
	}
	refuse := func(orgID string, err error) (scheme.Caller, error) {
		s.m.auditFailure(q, orgID, q.authKey, err)
		return scheme.Caller{}, s.m.refusal(q, err)
	}
	if !ok {
		return refuse("", authFailure("Invalid credentials", "path "+printable(r.URL.Path)+" does not end in /{authKey}/{action}"))
	}
	hasForm, err := formBody(r)
	if err != nil {
		return refuse("", err)
	}
	if r.Method == http.MethodPost && r.Header.Get("Authorization") == "" && !req.BodyKnown {
		return refuse("", scheme.BodyUnavailable())
	}
	var body []byte
	if hasForm && req.BodyKnown {
		if int64(len(req.Body)) > s.m.cfg.MaxBodyBytes {
			return refuse("", paramError(errTooLarge))
		}
		body = req.Body
	}
	q.params, q.literal, err = requestParams(r.URL.RawQuery, body)
	if v, _ := q.get(pResponseType); strings.EqualFold(v, "json") {
		q.asJSON = true
	}
	if err != nil {
		return refuse("", err)
	}
	c, err := s.m.identify(q)
	if err != nil {
		return refuse(c.orgID, err)
	}
	if c.kind == anonymous {
		return refuse("", fail(CodeInvalidRequest, action+" must not be called anonymously"))
	}
	out := scheme.Caller{Scheme: SchemeName, Family: Family, OrgID: c.orgID, PrincipalID: c.principal.ID, Kind: c.principal.Kind}
	switch {
	case c.kind == owner:
		out.Subject, out.CredentialID = authKey, authKey
	default:
		out.Subject, out.CredentialID = c.login, memberLookup(authKey, c.login)
	}
	if c.token != nil {
		out.CredentialID = c.token.ID
		if c.token.ExpiresAt != nil {
			out.ExpiresAt = *c.token.ExpiresAt
		}
	}
	return out, nil
}

// printable bounds a client-chosen string before it goes into a reason.
func printable(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// refusal is an Apstrata refusal on its way to WriteRefusal: the envelope
// to write (error code, detail, status), the response type and request id
// the request asked for, and the cause.
type refusal struct {
	aps       *apsError
	asJSON    bool
	requestID string
	cause     error
}

func (e *refusal) Error() string { return e.aps.Error() }
func (e *refusal) Unwrap() error { return e.cause }

// refusal wraps err as the *core.Error the scheme contract returns: its
// kind for the consumers (metrics, audit), the Apstrata envelope inside.
func (m *Module) refusal(q *request, err error) *core.Error {
	ae := toAPS(err)
	return &core.Error{Kind: refusalKind(err, ae), Reason: ae.Detail, RetryAfter: core.RetryAfterOf(err),
		Err: &refusal{aps: ae, asJSON: q.asJSON, requestID: q.id, cause: err}}
}

// refusalKind is the core kind of a refusal: the cause's own when it is a
// core error, else the one its Apstrata status stands for.
func refusalKind(err error, ae *apsError) core.Kind {
	var ce *core.Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	switch {
	case ae.guess:
		return core.KindUnauthenticated
	case ae.Status == http.StatusForbidden:
		return core.KindForbidden
	case ae.Status == http.StatusTooManyRequests:
		return core.KindRateLimited
	case ae.Status >= 500:
		return core.KindInternal
	}
	return core.KindInvalidInput
}

// WriteRefusal writes err in the Apstrata envelope, XML or JSON as the
// request's apsws.responseType asked, with Retry-After on 429/503.
func (s *apsScheme) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = &refusal{aps: toAPS(err), requestID: uuid.NewString(), cause: err,
			asJSON: strings.EqualFold(r.URL.Query().Get(pResponseType), "json")}
	}
	httpapi.SetRetryAfter(w, err)
	writeResponse(w, rf.asJSON, rf.requestID, nil, rf.aps)
}

// StripCredentials removes the apsws.* and apsdb.authToken parameters from
// the query and from a form body (the other parameters keep their exact
// encoding), the token cookie and the Authorization header.
func (s *apsScheme) StripCredentials(out *http.Request, body []byte) []byte {
	out.Header.Del("Authorization")
	out.URL.RawQuery = stripParams(out.URL.RawQuery)
	if cookies := out.Cookies(); len(cookies) > 0 {
		out.Header.Del("Cookie")
		for _, c := range cookies {
			if c.Name != tokenCookieName {
				out.AddCookie(c)
			}
		}
	}
	if out.Method != http.MethodPost || httpapi.MediaType(out) != "application/x-www-form-urlencoded" || len(body) == 0 {
		return body
	}
	stripped := []byte(stripParams(string(body)))
	out.ContentLength = int64(len(stripped))
	return stripped
}

// stripParams drops the credential parameters from a query or form
// string, keeping the others byte for byte.
func stripParams(raw string) string {
	var kept []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, _, _ := strings.Cut(part, "=")
		if dn, err := url.QueryUnescape(name); err == nil && credentialParam(dn) {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}
