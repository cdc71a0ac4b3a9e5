package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// Route is one route of the admin API: the mount authenticates the caller,
// decodes Body, calls Handle, writes its result or error; the OpenAPI
// document is generated from the same values.
type Route struct {
	Method  string      // "GET", "POST", "PUT", "PATCH", "DELETE"
	Path    string      // ServeMux path with {wildcards}: "/admin/taap/clients/{id}"
	Tag     string      // OpenAPI tag = console section, e.g. "TAAP"
	Summary string      // one line
	Action  core.Action // the privilege-table action Handle authorizes (documentation + OpenAPI x-action)
	Query   []Param     // documented query parameters
	Body    any         // zero value of the JSON request body (e.g. CreateClient{}); nil: no body
	Result  any         // zero value of the JSON answer; nil: 204 No Content
	// Status is the success status; 0 means 200. A create sets
	// http.StatusCreated. A nil result from Handle is always 204.
	Status int
	// Public routes need no caller (e.g. the OpenAPI document itself); Handle gets a zero Caller.
	Public bool
	// Raw: the handler writes the answer itself (a CRL download, an SSE/long-poll tail): Handle's
	// result must be nil and ResultType names the answer's media type.
	Raw        bool
	ResultType string // media type of a Raw answer, e.g. "application/pkix-crl"
	Handle     func(ctx context.Context, req *Request) (any, error)
}

// Param is a documented query parameter.
type Param struct {
	Name, Description string
	Type              string // "string", "integer", "boolean"
}

// Request is what Handle receives.
type Request struct {
	HTTP   *http.Request       // path values: req.HTTP.PathValue("id"); query: req.HTTP.URL.Query()
	W      http.ResponseWriter // a Raw route's answer; other routes may only set headers (Location)
	Caller core.BearerCaller   // the authenticated caller (zero for Public routes)
	Body   any                 // pointer to a decoded copy of Route.Body (nil when Route.Body is nil)

	api *API
}

// A request is the gate of the operations its route calls.
var _ core.Gate = (*Request)(nil)

// Actor is the caller as the privilege check sees it.
func (r *Request) Actor() core.Actor { return r.Caller.Actor() }

// Authorize checks Actor against action on target with the privilege
// table; a refusal is audited (protocol "admin", the client address, the
// request id) and is a core.KindForbidden error. subject names the object
// in the audit record ("" names the request: method and path).
func (r *Request) Authorize(ctx context.Context, action core.Action, target core.Target, subject string) error {
	if subject == "" {
		subject = r.HTTP.Method + " " + r.HTTP.URL.Path
	}
	return r.api.d.Authz.Authorize(ctx, core.Authorization{Actor: r.Actor(), Action: action, Target: target, Subject: subject,
		Protocol: Protocol, RemoteAddr: r.api.d.Addr.IP(r.HTTP), RequestID: httpapi.RequestID(r.HTTP)})
}

// RemoteAddr is the caller's address (behind trusted proxies), for audit records.
func (r *Request) RemoteAddr() string { return r.api.d.Addr.IP(r.HTTP) }

// RequestID is the request's id, for audit records.
func (r *Request) RequestID() string { return httpapi.RequestID(r.HTTP) }

// OrgScope is core.ListOrg for r: the organisation a listing of action
// covers (org as asked for a caller granted every organisation, its own
// otherwise; another one is refused and audited).
func (r *Request) OrgScope(ctx context.Context, action core.Action, org string) (string, error) {
	return core.ListOrg(ctx, r, action, org, "")
}

// Group is what a module contributes: family.Parts gets `Admin []adminapi.Route`; core objects and
// the ca, subscription, gateway and audit modules provide theirs to the composition root the same way.
type Group interface{ AdminRoutes() []Route }

// Sessions is how a console session authenticates an admin request: the
// console package implements it. Bearer returns the access token of r's
// session ("" and nil when r carries no session cookie; the mount then
// answers 401). For an unsafe method (not GET/HEAD/OPTIONS) without a
// valid CSRF token it returns a core.KindForbidden error. An
// Authorization header always wins over a cookie: Bearer is not called
// when r has one.
type Sessions interface {
	Bearer(r *http.Request) (string, error)
}

// SessionCookie is the name the OpenAPI document gives the console's
// session cookie (security scheme "cookie"); internal/console's tests
// keep it equal to console.CookieName.
const SessionCookie = "__Host-authgate_console"

// Protocol is the audit protocol of every admin API record.
const Protocol = "admin"

// DefaultMaxBody bounds a request body when Deps.MaxBody is 0.
const DefaultMaxBody = 64 << 10

// RouteOpenAPI is the OpenAPI document of the admin API (public).
const RouteOpenAPI = "/admin/openapi.json"

// The services the mount needs, as small interfaces.
type (
	bearer interface {
		// AdminCaller authenticates an access token and reads its holder afresh.
		AdminCaller(ctx context.Context, req core.BearerRequest) (core.BearerCaller, error)
	}
	authorizer interface {
		Authorize(ctx context.Context, a core.Authorization) error
	}
)

var (
	_ bearer     = (*core.BearerAuth)(nil)
	_ authorizer = (*core.Authorizer)(nil)
)

// Deps are the mount's dependencies.
type Deps struct {
	Bearer   bearer     // core.BearerAuth
	Authz    authorizer // core.Authorizer
	Sessions Sessions   // nil: console off, bearer only
	Addr     httpapi.ClientAddr
	Log      *slog.Logger // internal failures; nil: not logged
	MaxBody  int64        // request body limit (default DefaultMaxBody)
	// Observer counts every admin request's bearer check as an
	// authentication outcome (family oauth2, scheme SchemeAdminBearer), as
	// every other scheme check is counted; nil counts nothing.
	Observer core.Observer
	// Tracer spans that check when tracing is on; nil: no span.
	Tracer trace.Tracer
}

// SchemeAdminBearer names the admin API's bearer check in
// authgate_auth_total and the dashboard: an OAuth2 access token (or the
// console session holding one) presented to /admin.
const SchemeAdminBearer = "oauth2-admin-bearer"

// API is the admin API: every group's routes on one mount.
type API struct {
	d      Deps
	routes []Route
	// docJS is the OpenAPI document, marshalled once: the document's
	// object tree is not kept (about 1 MiB of pointers the garbage
	// collector would mark in every cycle, for one read-only answer).
	docJS []byte
}

var _ httpapi.Module = (*API)(nil)

// New builds the admin API from every group's routes: an httpapi.Module
// that mounts them and serves GET /admin/openapi.json (OpenAPI 3.0 built
// with kin-openapi, schemas from the Go types of Body/Result). A malformed
// route, or two routes with one method and path, is a build error.
func New(d Deps, routes ...[]Route) (*API, error) {
	if d.Bearer == nil || d.Authz == nil {
		return nil, errors.New("adminapi: Bearer and Authz are required")
	}
	if d.MaxBody <= 0 {
		d.MaxBody = DefaultMaxBody
	}
	a := &API{d: d}
	a.routes = append(a.routes, Route{Method: http.MethodGet, Path: RouteOpenAPI, Tag: "Meta", Summary: "The OpenAPI 3 description of the admin API",
		Public: true, Raw: true, ResultType: "application/json", Handle: a.serveOpenAPI})
	for _, l := range routes {
		a.routes = append(a.routes, l...)
	}
	seen := map[string]string{}
	var errs []error
	for _, rt := range a.routes {
		if err := rt.check(); err != nil {
			errs = append(errs, fmt.Errorf("adminapi: %s %s: %w", rt.Method, rt.Path, err))
			continue
		}
		key := rt.Method + " " + wildcard.ReplaceAllString(rt.Path, "{}")
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("adminapi: %s %s is declared twice (%s)", rt.Method, rt.Path, prev))
		}
		seen[key] = rt.Method + " " + rt.Path
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	doc, err := buildOpenAPI(a.routes)
	if err != nil {
		return nil, err
	}
	if a.docJS, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("adminapi: openapi: %w", err)
	}
	return a, nil
}

// wildcard is a ServeMux path wildcard: {name} or {name...}.
var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

var paramTypes = []string{"string", "integer", "boolean"}

// check reports what is malformed in a route.
func (rt Route) check() error {
	switch rt.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return errors.New("method must be GET, POST, PUT, PATCH or DELETE")
	}
	rest := wildcard.ReplaceAllString(rt.Path, "x")
	switch {
	case !strings.HasPrefix(rt.Path, "/admin/"):
		return errors.New("path must be under /admin/")
	case strings.ContainsAny(rest, "{} ?#") || strings.Contains(rt.Path, "//") || strings.HasSuffix(rt.Path, "/"):
		return errors.New("path must be a ServeMux path of segments and {wildcards}")
	case rt.Tag == "" || rt.Summary == "":
		return errors.New("tag and summary are required")
	case rt.Handle == nil:
		return errors.New("no handler")
	case !rt.Public && !knownAction(rt.Action):
		return fmt.Errorf("action %q is not in the privilege table", rt.Action)
	case rt.Raw && (rt.ResultType == "" || rt.Result != nil):
		return errors.New("a raw route names its ResultType and has no Result")
	case !rt.Raw && rt.ResultType != "":
		return errors.New("ResultType is for raw routes")
	case rt.Body != nil && structType(rt.Body) == nil:
		return errors.New("body must be a struct")
	case rt.Body != nil && (rt.Method == http.MethodGet || rt.Method == http.MethodDelete):
		return errors.New("GET and DELETE take no body")
	case rt.Status != 0 && (rt.Status < 200 || rt.Status > 299):
		return errors.New("status must be a 2xx")
	}
	for _, p := range rt.Query {
		if p.Name == "" || p.Description == "" || !slices.Contains(paramTypes, p.Type) {
			return fmt.Errorf("query parameter %q needs a name, a description and a type of %v", p.Name, paramTypes)
		}
	}
	return nil
}

func knownAction(a core.Action) bool {
	for _, p := range core.PrivilegeTable() {
		if p.Action == a {
			return true
		}
	}
	return false
}

// structType is the struct type of a Body value (a struct or a pointer to one).
func structType(v any) reflect.Type {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

// Routes returns the routes (the OpenAPI document's own first), for the docs test and the console.
func (a *API) Routes() []Route { return slices.Clone(a.routes) }

// OpenAPI returns the OpenAPI document, built again from the routes, for
// the tests that validate it.
func (a *API) OpenAPI() (*openapi3.T, error) { return buildOpenAPI(a.routes) }

// Register mounts every route on mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes {
		mux.Handle(rt.Method+" "+rt.Path, a.handler(rt))
	}
}

func (a *API) serveOpenAPI(_ context.Context, req *Request) (any, error) {
	h := req.W.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = req.W.Write(a.docJS)
	return nil, nil
}

// handler is the mount of one route: authenticate, check the route's
// action is granted to the caller's kind at all (defence in depth: Handle
// still authorizes on the object), decode the body, call Handle, answer.
func (a *API) handler(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tw := &trackingWriter{ResponseWriter: w}
		req := &Request{HTTP: r, W: tw, api: a}
		res, err := a.serve(ctx, rt, req, w)
		switch {
		case err != nil && tw.wrote:
			if a.d.Log != nil { // too late for an error answer
				a.d.Log.Error("admin raw answer failed", slog.String("path", r.URL.Path), slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
			}
		case err != nil:
			httpapi.WriteAdminError(w, r, a.d.Log, "admin", err)
		case rt.Raw:
			if res != nil && a.d.Log != nil {
				a.d.Log.Error("admin raw route returned a result", slog.String("path", r.URL.Path))
			}
		case res == nil:
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
		default:
			status := rt.Status
			if status == 0 {
				status = http.StatusOK
			}
			httpapi.WriteJSON(w, status, res)
		}
	})
}

func (a *API) serve(ctx context.Context, rt Route, req *Request, w http.ResponseWriter) (any, error) {
	r := req.HTTP
	if !rt.Public {
		c, err := a.authenticate(ctx, r)
		if err != nil {
			return nil, err
		}
		req.Caller = c
		act := c.Actor()
		if err := req.Authorize(ctx, rt.Action, core.Target{OrgID: act.OrgID, PrincipalID: act.PrincipalID}, ""); err != nil {
			return nil, err
		}
	}
	if rt.Body != nil {
		v, err := a.decode(w, r, rt.Body)
		if err != nil {
			return nil, err
		}
		req.Body = v
	}
	return rt.Handle(ctx, req)
}

// errTokenRequired is the 401 of a request without a usable token.
var errTokenRequired = core.E(core.KindUnauthenticated, "an admin access token is required: Authorization: Bearer <access_token>")

// authenticate returns the caller of r: the Authorization header's bearer
// token, else the console session's (Sessions), else a 401.
func (a *API) authenticate(ctx context.Context, r *http.Request) (c core.BearerCaller, err error) {
	ctx, obs := scheme.Observe(ctx, a.d.Observer, a.d.Tracer, "oauth2", SchemeAdminBearer)
	defer func() { obs.Done(c.Token.OrgID, err) }()
	header := r.Header.Get("Authorization")
	if header == "" && len(r.Header.Values("Authorization")) == 0 && a.d.Sessions != nil {
		tok, err := a.d.Sessions.Bearer(r)
		if err != nil {
			return core.BearerCaller{}, err
		}
		if tok != "" {
			header = "Bearer " + tok
		}
	}
	c, err = a.d.Bearer.AdminCaller(ctx, core.BearerRequest{Header: header, TLS: r.TLS, Protocol: Protocol,
		RemoteAddr: a.d.Addr.IP(r), RequestID: httpapi.RequestID(r)})
	switch {
	case errors.Is(err, core.ErrBearerMissing), errors.Is(err, core.ErrBearerMalformed):
		return core.BearerCaller{}, errTokenRequired
	case core.KindOf(err) == core.KindExpired || core.KindOf(err) == core.KindRevoked:
		return core.BearerCaller{}, core.E(core.KindUnauthenticated, core.ReasonOf(err)) // one 401 kind
	}
	return c, err
}

// decode reads r's JSON body, at most MaxBody bytes, into a new copy of
// zero's type; unknown fields, trailing data and other media types are
// refused.
func (a *API) decode(w http.ResponseWriter, r *http.Request, zero any) (any, error) {
	switch mt := httpapi.MediaType(r); {
	case mt == "application/json", mt == "" && r.Header.Get("Content-Type") == "":
	default:
		return nil, core.E(core.KindInvalidInput, "the request body must be application/json")
	}
	b, err := httpapi.ReadBody(w, r, a.d.MaxBody)
	if err != nil {
		return nil, err
	}
	v := reflect.New(structType(zero)).Interface()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt key is an error, as in the configuration file
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return nil, core.E(core.KindInvalidInput, te.Field+" must be of type "+te.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, core.E(core.KindInvalidInput, "unknown field "+core.LogSafe(strings.TrimPrefix(err.Error(), "json: unknown field "), 80))
		default:
			return nil, core.E(core.KindInvalidInput, "the request body must be one JSON object of the documented fields")
		}
	}
	if dec.More() {
		return nil, core.E(core.KindInvalidInput, "the request body has trailing data")
	}
	return v, nil
}

// trackingWriter notes whether a raw handler started its answer.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of a tail).
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Flush flushes a streamed answer.
func (t *trackingWriter) Flush() {
	t.wrote = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

// List is the answer of a listing: the items, their total, and the cursor
// of the next page when paged.
type List[T any] struct {
	Items      []T    `json:"items"`
	Total      int    `json:"total"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewList answers items (never null) with their count.
func NewList[T any](items []T) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, Total: len(items)}
}
