package device

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// auditProtocol names the device-server API in the audit log (the same
// name as its access keys and token endpoint: one API to its users).
const auditProtocol = "oauth2"

// Options are the server-wide settings the identities need besides their section.
type Options struct {
	// Origin gives the absolute base of links (see httpapi.Origin).
	Origin httpapi.Origin
	Addr   httpapi.ClientAddr
	// DefaultPageSize and MaxPageSize page the lists, as on the rest of
	// the device-server API (oauth2's default_page_size, max_page_size).
	DefaultPageSize, MaxPageSize int
	// Access decides, after the privilege check, whether a non-admin
	// caller may use a route (API subscriptions); nil: no check.
	Access accessPolicy
}

// accessPolicy is the API subscription policy (core.AccessGate).
type accessPolicy interface {
	Allow(ctx context.Context, a core.Access) error
}

// New builds the identities API over the core services and the CA.
func New(svc core.Services, authority deviceCA, cfg Config, opt Options) (*Identities, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.DefaultPageSize < 1 || opt.MaxPageSize < opt.DefaultPageSize {
		opt.DefaultPageSize, opt.MaxPageSize = 20, 500
	}
	log := svc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Identities{svc: svc, ca: authority, cfg: cfg, opt: opt, log: log, bearer: svc.BearerAuth()}, nil
}

// Caller is who a bearer access token authenticates on the management routes.
type Caller struct{ core.BearerCaller }

// OrgID is the caller's organisation.
func (c Caller) OrgID() string { return c.Token.OrgID }

// PrincipalID is the caller's principal.
func (c Caller) PrincipalID() string { return c.Token.PrincipalID }

type callerKey struct{}

func caller(r *http.Request) Caller {
	c, _ := r.Context().Value(callerKey{}).(Caller)
	return c
}

// requireAction wraps a management route performing action, as every
// bearer route of the device-server API: the access token (the core
// bearer path), the privilege table for action on the caller's own
// objects, then for non-admins the subscription policy.
func (i *Identities) requireAction(action core.Action, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := i.opt.Addr.IP(r)
		bc, err := i.bearer.Authenticate(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS,
			Protocol: auditProtocol, RemoteAddr: addr, RequestID: httpapi.RequestID(r)})
		if err != nil {
			i.fail(w, r, err)
			return
		}
		c := Caller{bc}
		if err := i.authorize(r, c, action, core.Target{OrgID: c.OrgID(), PrincipalID: c.PrincipalID()}, r.Method+" "+r.URL.Path); err != nil {
			i.fail(w, r, err)
			return
		}
		if i.opt.Access != nil && !core.AdminFor(c.Kind, core.ActResourcesUse) {
			a := core.Access{OrgID: c.OrgID(), PrincipalID: c.PrincipalID(), Method: r.Method, Path: r.URL.Path, Scheme: "bearer", Scope: c.Token.Scope, Kind: c.Kind}
			if err := i.opt.Access.Allow(r.Context(), a); err != nil {
				i.fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func (i *Identities) authorize(r *http.Request, c Caller, action core.Action, target core.Target, subject string) error {
	return i.svc.Authz.Authorize(r.Context(), core.Authorization{Actor: c.Actor(), Action: action, Target: target, Subject: subject,
		Protocol: auditProtocol, RemoteAddr: i.opt.Addr.IP(r), RequestID: httpapi.RequestID(r)})
}

// authorizeObject checks action on an object of orgID/principalID; a
// refusal because the object is outside the caller's reach answers
// notFound (core.NotFoundIfOutOfReach: no oracle), audited all the same.
func (i *Identities) authorizeObject(r *http.Request, action core.Action, orgID, principalID, subject, notFound string) error {
	err := i.authorize(r, caller(r), action, core.Target{OrgID: orgID, PrincipalID: principalID}, subject)
	return core.NotFoundIfOutOfReach(err, core.E(core.KindNotFound, notFound))
}

// baseURL is the absolute base for links (never a Host header that does
// not name this server).
func (i *Identities) baseURL(r *http.Request) string { return i.opt.Origin.Base(r) }

// audit records e with the protocol, address and request id filled in.
func (i *Identities) audit(ctx context.Context, r *http.Request, e core.AuditEvent) error {
	return i.svc.Audit.Record(ctx, i.event(r, e))
}

func (i *Identities) event(r *http.Request, e core.AuditEvent) core.AuditEvent {
	e.Protocol = auditProtocol
	e.RemoteAddr = i.opt.Addr.IP(r)
	e.RequestID = httpapi.RequestID(r)
	return e
}

func (i *Identities) paging(r *http.Request) (start, size int, err error) {
	start, size, reason := httpapi.Paging(r.URL.Query(), i.opt.DefaultPageSize, i.opt.MaxPageSize)
	if reason != "" {
		return 0, 0, errInvalidRequest(reason)
	}
	return start, size, nil
}

func validName(n string) error {
	if err := core.ValidName("Name", n); err != nil {
		return errInvalidRequest(core.ReasonOf(err))
	}
	return nil
}

func reasonOr(err error, def string) string {
	if r := core.ReasonOf(err); r != "" {
		return r
	}
	return def
}

// Link is a HATEOAS link of the device-server API. Href is absolute.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
	Type string `json:"type,omitempty"`
}

type linksDoc struct {
	Links []Link `json:"Links"`
}

type pageInfo struct {
	TotalCount int `json:"TotalCount"`
	ItemsCount int `json:"ItemsCount"`
	StartIndex int `json:"StartIndex"`
}
