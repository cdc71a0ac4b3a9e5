package oauth2

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Options are the server-wide settings the module needs besides its section.
type Options struct {
	// Origin gives the absolute base of links (public_url, allowed_hosts;
	// the zero value: the address each request arrived on).
	Origin  httpapi.Origin
	Addr    httpapi.ClientAddr
	Version string // reported by GET /versions
	// Links are extra entry-point links for routes other modules serve to
	// authenticated callers (rel, path, type).
	Links []Link
	// Scopes lists the API resources a principal may be granted as scope
	// (subscription.Service); nil: only the default scopes.
	Scopes scopeSource
}

// Link is a HATEOAS link. Href is absolute in responses.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
	Type string `json:"type,omitempty"`
	// Action is what following the link performs; the entry point shows
	// the link only to callers the privilege table grants it.
	Action core.Action `json:"-"`
}

// Module is the device-server REST authentication and OAuth 2.0 adapter.
type Module struct {
	svc     core.Services
	cfg     Config
	opt     Options
	log     *slog.Logger
	bearer  *BearerAuth
	guard   guard
	entries entryCache
}

// guard is the core failed-authentication limiter (core.Guard).
type guard interface {
	Verify(ctx context.Context, a core.Attempt, check func() error) error
}

var (
	_ httpapi.Module = (*Module)(nil)
	_ guard          = (*core.Guard)(nil)
)

// New builds the module. cfg must have passed Validate.
func New(svc core.Services, cfg Config, opt Options) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Module{svc: svc, cfg: cfg, opt: opt, log: svc.Log, guard: svc.Guard}
	if cfg.TokenCacheMaxAge > 0 {
		svc.Tokens.EnableCache(core.TokenAccess, cfg.TokenCacheMaxAge)
	}
	m.bearer = NewBearerAuth(svc, opt.Addr)
	return m, nil
}

// Bearer returns the bearer authenticator for other routes of authgate.
func (m *Module) Bearer() *BearerAuth { return m.bearer }

// Register adds the routes.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", m.entryPoint)
	mux.HandleFunc("GET /versions", m.versions)
	mux.HandleFunc("POST /oauth/token", m.token)
	mux.HandleFunc("POST /oauth/introspect", m.introspect)
	mux.HandleFunc("POST /oauth/revoke", m.revoke)
	mux.Handle("GET /accesskeys", m.bearer.RequireAction(core.ActAccessKeysRead, http.HandlerFunc(m.listKeys)))
	mux.Handle("POST /accesskeys", m.bearer.RequireAction(core.ActAccessKeysCreate, http.HandlerFunc(m.createKey)))
	mux.Handle("GET /accesskeys/{key}", m.bearer.RequireAction(core.ActAccessKeysRead, http.HandlerFunc(m.getKey)))
	mux.Handle("PUT /accesskeys/{key}", m.bearer.RequireAction(core.ActAccessKeysUpdate, http.HandlerFunc(m.renameKey)))
	mux.Handle("DELETE /accesskeys/{key}", m.bearer.RequireAction(core.ActAccessKeysDelete, http.HandlerFunc(m.deleteKey)))
}

// baseURL is the absolute base for links (see httpapi.Origin: never a
// Host header that does not name this server).
func (m *Module) baseURL(r *http.Request) string { return m.opt.Origin.Base(r) }

// authenticateKey verifies an access key and secret under the core
// failed-authentication limits. purpose says what the key authenticated
// for (audit reason), grant the scheme label the limiter attributes a
// refusal to (a Grant* constant). Wrong secrets, unknown keys and revoked keys all
// come back as core errors of kind Unauthenticated (or RateLimited when
// the limits do not admit the attempt).
func (m *Module) authenticateKey(ctx context.Context, r *http.Request, grant, key, secret, purpose string) (core.Credential, core.Principal, error) {
	fail := func(err error) (core.Credential, core.Principal, error) {
		m.audit(ctx, r, core.AuditEvent{Action: core.AuditAuthFailure, Subject: key, Outcome: core.OutcomeFailure,
			Reason: purpose + ": " + reasonOr(err, "authentication failed")})
		return core.Credential{}, core.Principal{}, err
	}
	var cred core.Credential
	var p core.Principal
	err := m.guard.Verify(ctx, core.Attempt{Kind: core.CredAccessKey, Lookup: key, Addr: m.opt.Addr.IP(r), Family: family, Scheme: grant}, func() (err error) {
		if cred, err = m.svc.Credentials.VerifySecret(ctx, core.CredAccessKey, key, secret); err != nil {
			return err
		}
		if p, err = m.svc.Store.GetPrincipal(ctx, cred.PrincipalID); err != nil {
			return err
		}
		if p.Disabled { // counted and answered like a wrong secret
			return core.E(core.KindUnauthenticated, "principal disabled")
		}
		return nil
	})
	switch {
	case err == nil:
	case core.IsGuess(err):
		// A revoked or expired key, or a disabled principal, is reported like an unknown key.
		return fail(core.E(core.KindUnauthenticated, "invalid key or secret"))
	case core.KindOf(err) == core.KindRateLimited:
		return fail(err)
	default:
		return core.Credential{}, core.Principal{}, err
	}
	return cred, p, nil
}

func reasonOr(err error, def string) string {
	if r := core.ReasonOf(err); r != "" {
		return r
	}
	return def
}

// audit records e with the protocol, address and request id filled in.
// Failures to audit are logged by the Auditor; issuing paths check the
// error themselves.
func (m *Module) audit(ctx context.Context, r *http.Request, e core.AuditEvent) error {
	return m.svc.Audit.Record(ctx, m.event(r, e))
}

// event fills in the protocol, address and request id of an audit event.
func (m *Module) event(r *http.Request, e core.AuditEvent) core.AuditEvent {
	e.Protocol = "oauth2"
	e.RemoteAddr = m.opt.Addr.IP(r)
	e.RequestID = httpapi.RequestID(r)
	return e
}
