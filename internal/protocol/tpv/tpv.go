// Package tpv serves the TPV Hub API: the brand login that trades an
// HMAC-signed application token for a 30-minute auth_token, the
// per-request Signature scheme authgate defines for later calls
// (docs/tpv-signature.md), and the TPV resources behind them (sales
// records, products, digital delivery and call queueing), stored as core
// documents scoped to the brand's organisation.
package tpv

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// Document collections owned by this package.
const (
	CollectionRecords  = "tpv.records"
	CollectionProducts = "tpv.products"
)

// protocol names this adapter in the audit log.
const protocol = "tpv"

// The services the adapter needs, as small interfaces it owns.
type (
	credentialFinder interface {
		Find(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error)
		Open(c core.Credential) ([]byte, error)
	}
	credentialGetter interface {
		GetCredential(ctx context.Context, id string) (core.Credential, error)
	}
	principalGetter interface {
		GetPrincipal(ctx context.Context, id string) (core.Principal, error)
	}
	tokenIssuer interface {
		Issue(ctx context.Context, spec core.TokenSpec) (string, core.Token, error)
		Lookup(ctx context.Context, kind core.TokenKind, value string) (core.Token, error)
	}
	replayCache interface {
		Remember(ctx context.Context, namespace, key string, expires time.Time) error
	}
	auditor interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	// accessPolicy decides, after authentication, whether the brand may
	// use the route (API subscriptions; internal/subscription).
	accessPolicy interface {
		Allow(ctx context.Context, a core.Access) error
	}
	// guard limits failed login and request signatures (core.Guard).
	guard interface {
		Verify(ctx context.Context, a core.Attempt, check func() error) error
	}
	documents interface {
		PutDocument(ctx context.Context, d core.Document) error
		GetDocument(ctx context.Context, collection, id string) (core.Document, error)
		UpdateDocument(ctx context.Context, d core.Document) (core.Document, error)
		ListDocuments(ctx context.Context, collection, orgID string, p core.Page) ([]core.Document, int, error)
	}
)

var (
	_ credentialFinder = (*core.Credentials)(nil)
	_ credentialGetter = (core.Store)(nil)
	_ principalGetter  = (core.Store)(nil)
	_ tokenIssuer      = (*core.Tokens)(nil)
	_ replayCache      = (*core.Replay)(nil)
	_ auditor          = (*core.Auditor)(nil)
	_ documents        = (core.Store)(nil)
	_ guard            = (*core.Guard)(nil)
	_ httpapi.Module   = (*Module)(nil)
)

// Deps are the adapter's collaborators.
type Deps struct {
	Clock       core.Clock
	Log         *slog.Logger
	Credentials credentialFinder
	CredStore   credentialGetter
	Principals  principalGetter
	Tokens      tokenIssuer
	Replay      replayCache
	Audit       auditor
	Docs        documents
	Guard       guard
	ClientAddr  httpapi.ClientAddr
	Access      accessPolicy // nil: no subscription check
	// Observer counts authentication outcomes and Tracer makes a span of
	// each check; nil: neither.
	Observer core.Observer
	Tracer   trace.Tracer
}

// DepsFrom takes the adapter's collaborators from the core services.
func DepsFrom(svc core.Services, addr httpapi.ClientAddr) Deps {
	return Deps{
		Clock: svc.Clock, Log: svc.Log, Credentials: svc.Credentials, CredStore: svc.Store,
		Principals: svc.Store, Tokens: svc.Tokens, Replay: svc.Replay, Audit: svc.Audit,
		Docs: svc.Store, Guard: svc.Guard, ClientAddr: addr, Observer: svc.Observer, Tracer: svc.Tracer,
	}
}

// Module is the TPV Hub adapter.
type Module struct {
	cfg Config
	d   Deps
	sig *signatureScheme
	// checked is sig as the TPV routes run it: observed (a span, a counted
	// outcome) as the registry observes it for the gateway.
	checked scheme.Scheme
}

// New builds the adapter; cfg must have passed Validate.
func New(cfg Config, d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{cfg: cfg, d: d}
	m.sig = newSignatureScheme(m)
	m.checked = scheme.Instrumented(m.sig, d.Observer, d.Tracer)
	return m
}

// Register mounts the routes. The vendor documents GET for the resource
// routes but its examples POST, so both methods are served.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/auth", m.login)
	if !m.cfg.Resources {
		return
	}
	mux.Handle("POST "+RouteTPV, m.authed(m.submitTPV))
	mux.Handle("GET "+RouteProducts, m.authed(m.listProducts))
	mux.Handle("POST "+RouteProducts, m.authed(m.createProduct))
	for _, method := range []string{"GET", "POST"} {
		mux.Handle(method+" "+RouteDigitalSend, m.authed(m.digitalSend))
		mux.Handle(method+" "+RouteQueueCall, m.authed(m.queueCall))
		mux.Handle(method+" "+RouteTestAPI, m.authed(m.testAPI))
	}
}
