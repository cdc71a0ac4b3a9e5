package apstrata

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// protocol names this adapter in the audit log.
const protocol = "apstrata"

// The services the adapter needs, as small interfaces it owns.
type (
	credentials interface {
		Find(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error)
		Open(c core.Credential) ([]byte, error)
	}
	principals interface {
		GetPrincipal(ctx context.Context, id string) (core.Principal, error)
	}
	tokens interface {
		Issue(ctx context.Context, spec core.TokenSpec) (string, core.Token, error)
		Lookup(ctx context.Context, kind core.TokenKind, value string) (core.Token, error)
		Revoke(ctx context.Context, id string) error
	}
	tokenStore interface {
		MarkTokenRotated(ctx context.Context, id string, at time.Time) (bool, error)
		UpdateTokenExpiry(ctx context.Context, id string, expires time.Time) error
		CountActiveTokens(ctx context.Context, principalID string, kind core.TokenKind, now time.Time) (int, error)
	}
	replayCache interface {
		Remember(ctx context.Context, namespace, key string, expires time.Time) error
	}
	auditor interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	// guard limits failed signature checks (core.Guard).
	guard interface {
		Verify(ctx context.Context, a core.Attempt, check func() error) error
	}
	authorizer interface {
		Authorize(ctx context.Context, a core.Authorization) error
	}
)

var (
	_ credentials    = (*core.Credentials)(nil)
	_ principals     = (core.Store)(nil)
	_ tokens         = (*core.Tokens)(nil)
	_ tokenStore     = (core.Store)(nil)
	_ replayCache    = (*core.Replay)(nil)
	_ auditor        = (*core.Auditor)(nil)
	_ guard          = (*core.Guard)(nil)
	_ authorizer     = (*core.Authorizer)(nil)
	_ httpapi.Module = (*Module)(nil)
)

// Deps are the adapter's collaborators.
type Deps struct {
	Clock       core.Clock
	Log         *slog.Logger
	Credentials credentials
	Principals  principals
	Tokens      tokens
	TokenStore  tokenStore
	Replay      replayCache
	Audit       auditor
	Guard       guard
	ClientAddr  httpapi.ClientAddr
	// Origin names this server in the service URL a signature may cover
	// (never an arbitrary Host header).
	Origin httpapi.Origin
	// Authz is the core privilege check (nil: one auditing through Audit).
	Authz authorizer
	// Access decides, after authentication, whether the caller may use the
	// action (API subscriptions; internal/subscription); nil: no check.
	Access interface {
		Allow(ctx context.Context, a core.Access) error
	}
	// Observer counts authentication outcomes and Tracer makes a span of
	// each check; nil: neither.
	Observer core.Observer
	Tracer   trace.Tracer
}

// DepsFrom takes the adapter's dependencies from the core services.
func DepsFrom(svc core.Services, addr httpapi.ClientAddr) Deps {
	return Deps{Clock: svc.Clock, Log: svc.Log, Credentials: svc.Credentials, Principals: svc.Store,
		Tokens: svc.Tokens, TokenStore: svc.Store, Replay: svc.Replay, Audit: svc.Audit, Guard: svc.Guard, ClientAddr: addr,
		Origin: httpapi.LocalOrigin(addr), Authz: svc.Authz, Observer: svc.Observer, Tracer: svc.Tracer}
}

// Module serves /apsdb/rest/{authKey}/{Action}.
type Module struct {
	cfg Config
	d   Deps
}

// New builds the adapter.
func New(cfg Config, d Deps) *Module {
	if d.Authz == nil {
		d.Authz = core.NewAuthorizer(d.Audit)
	}
	return &Module{cfg: cfg, d: d}
}

// authorize runs the core privilege check for c acting on target.
func (m *Module) authorize(q *request, c caller, action core.Action, target core.Target, subject string) error {
	return m.d.Authz.Authorize(q.r.Context(), core.Authorization{Actor: core.Actor{Kind: c.principal.Kind, OrgID: c.orgID, PrincipalID: c.principal.ID},
		Action: action, Target: target, Subject: subject, Protocol: protocol, RemoteAddr: q.remote, RequestID: httpapi.RequestID(q.r)})
}

// Register mounts the routes.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /apsdb/rest/{authKey}/{action}", m.serve)
	mux.HandleFunc("POST /apsdb/rest/{authKey}/{action}", m.serve)
}

// request is one parsed call.
type request struct {
	r       *http.Request
	id      string
	authKey string
	action  string
	params  []Pair
	// literal[i] is params[i]'s value with its literal "+" kept, or "".
	literal   []string
	asJSON    bool
	remote    string
	setCookie *http.Cookie
	audited   bool // a failure of this request is in the audit log
	// grant marks a token-granting action, observed as a whole under
	// GrantToken (serve) instead of its authentication alone.
	grant bool
}

// get returns the first value of a parameter.
func (q *request) get(name string) (string, bool) {
	for _, p := range q.params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

func (m *Module) serve(w http.ResponseWriter, r *http.Request) {
	q := &request{r: r, id: uuid.NewString(), authKey: r.PathValue("authKey"), action: r.PathValue("action"), remote: m.d.ClientAddr.IP(r)}
	var o scheme.Observation // the zero one observes nothing
	if q.grant = q.action == "GenerateToken" || q.action == "RenewToken"; q.grant {
		var ctx context.Context
		ctx, o = scheme.Observe(r.Context(), m.d.Observer, m.d.Tracer, Family, GrantToken)
		if ctx != r.Context() { // a span: its children are the grant's store calls
			q.r = r.WithContext(ctx)
		}
	}
	result, err := m.handle(w, q)
	o.Done("", outcomeOf(err))
	if q.setCookie != nil && err == nil {
		http.SetCookie(w, q.setCookie)
	}
	var ae *apsError
	httpapi.SetRetryAfter(w, err)
	if err != nil {
		ae = toAPS(err)
		if ae.Status >= 500 {
			m.d.Log.Error("apstrata request failed", slog.String("action", q.action), slog.String("request_id", q.id), slog.String("err", ae.reason))
		}
	}
	writeResponse(w, q.asJSON, q.id, result, ae)
}

func (m *Module) handle(w http.ResponseWriter, q *request) ([]field, error) {
	params, literal, err := m.readParams(w, q.r)
	q.params, q.literal = params, literal
	if v, _ := q.get(pResponseType); strings.EqualFold(v, "json") {
		q.asJSON = true
	}
	if err != nil {
		if q.action == "GenerateToken" || q.action == "RenewToken" {
			m.auditFailure(q, "", q.authKey, err) // a refused grant all the same
		}
		return nil, err
	}
	switch q.action {
	case "GenerateToken":
		return m.grant(q, m.generateToken)
	case "RenewToken":
		return m.grant(q, m.renewToken)
	case "DeleteToken":
		return m.deleteToken(q)
	case "VerifyCredentials":
		return m.verifyCredentials(q)
	}
	// Any other action (SaveDocument, Query, ...) is authenticated like
	// the gateway authenticates it (the apstrata scheme's check); this
	// module serves only the token actions, so an authenticated caller
	// learns the action is unknown here, an unauthenticated one only that
	// it is not authenticated.
	if _, err := m.tokenAction(q); err != nil {
		return nil, err
	}
	return nil, fail(CodeInvalidRequest, "Unknown action ["+q.action+"]")
}

// grant runs a token-granting action and audits its refusal if the action
// did not already (parameter checks refuse without auditing); faults of
// authgate or its store are logged, not audited as refusals.
func (m *Module) grant(q *request, action func(*request) ([]field, error)) ([]field, error) {
	out, err := action(q)
	if err != nil && !q.audited {
		if ae := toAPS(err); ae.Status < 500 {
			m.auditFailure(q, "", q.authKey, err)
		}
	}
	return out, err
}

// readParams collects the query parameters and, for form posts, the
// body's (read whole, bounded by max_body_bytes), with each value's
// literal-"+" form (parseParams).
func (m *Module) readParams(w http.ResponseWriter, r *http.Request) ([]Pair, []string, error) {
	hasForm, ferr := formBody(r)
	var body []byte
	if ferr == nil && hasForm {
		var err error
		if body, err = httpapi.ReadBody(w, r, m.cfg.MaxBodyBytes); err != nil {
			params, literal, _ := parseParams(r.URL.RawQuery)
			return params, literal, bodyError(err)
		}
	}
	params, literal, err := requestParams(r.URL.RawQuery, body)
	if err == nil {
		err = ferr
	}
	return params, literal, err
}

// formBody reports whether r carries a form body whose parameters count
// (and are signed); any other body is refused (415).
func formBody(r *http.Request) (bool, error) {
	if r.Method != http.MethodPost || r.Body == nil && r.ContentLength == 0 {
		return false, nil
	}
	switch httpapi.MediaType(r) {
	case "application/x-www-form-urlencoded":
		return true, nil
	case "":
		if r.ContentLength == 0 {
			return false, nil
		}
	}
	return false, &apsError{Code: CodeInvalidRequest, Detail: "Request bodies must be application/x-www-form-urlencoded", Status: http.StatusUnsupportedMediaType}
}

// requestParams are the query's parameters followed by the form body's.
func requestParams(rawQuery string, body []byte) ([]Pair, []string, error) {
	params, literal, err := parseParams(rawQuery)
	if err != nil {
		return nil, nil, paramError(err)
	}
	if len(body) == 0 {
		return params, literal, nil
	}
	more, moreLit, err := parseParams(string(body))
	if err != nil {
		return params, literal, paramError(err)
	}
	if len(params)+len(more) > maxParams {
		return params, literal, paramError(errTooMany)
	}
	return append(params, more...), append(literal, moreLit...), nil
}

// bodyError is a refused body (httpapi.ReadBody) in the protocol's shape.
func bodyError(err error) *apsError {
	st, ok := httpapi.BodyStatus(err)
	switch {
	case st == http.StatusRequestEntityTooLarge:
		return paramError(errTooLarge)
	case ok:
		return &apsError{Code: CodeInvalidRequest, Detail: "The request body could not be read", Status: st, reason: err.Error()}
	}
	return fail(CodeInvalidRequest, "The request body could not be read")
}

func paramError(err error) *apsError {
	if errors.Is(err, errTooLarge) {
		return &apsError{Code: CodeInvalidRequest, Detail: "The request is too large", Status: http.StatusRequestEntityTooLarge}
	}
	return fail(CodeInvalidRequest, "The request parameters are malformed: "+err.Error())
}

// audit records an event; failures to audit are logged by the auditor.
func (m *Module) audit(q *request, action, outcome, orgID, principalID, subject, reason string) {
	_ = m.d.Audit.Record(q.r.Context(), core.AuditEvent{
		Action: action, Protocol: protocol, OrgID: orgID, PrincipalID: principalID, Subject: subject,
		Outcome: outcome, Reason: reason, RemoteAddr: q.remote, RequestID: httpapi.RequestID(q.r),
	})
}

// auditFailure records a refused request with its real reason.
func (m *Module) auditFailure(q *request, orgID, subject string, err error) {
	ae := toAPS(err)
	reason := ae.reason
	if reason == "" {
		reason = ae.Detail
	}
	m.audit(q, core.AuditAuthFailure, core.OutcomeFailure, orgID, "", subject, q.action+": "+ae.Code+": "+reason)
	q.audited = true
}
