package taap

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	authn "github.com/authgate/authgate/internal/scheme"
)

// Routes served by the module.
const (
	RouteToken   = "/oauth2/v6/tokens"
	RouteJWKS    = "/.well-known/jwks.json"
	RouteOIDC    = "/.well-known/openid-configuration"
	RouteDevice  = "/iot-connectivity/v1/devices/{iccid}"
	RouteClients = "/taap/v1/clients"
	RouteSIMs    = "/taap/v1/sims"
	RouteExplain = "/taap/v1/pop/explain"
)

// The services the adapter needs, as small interfaces it owns.
type (
	secretVerifier interface {
		VerifySecret(ctx context.Context, kind core.CredentialKind, lookup, secret string) (core.Credential, error)
	}
	tokenService interface {
		NewToken(spec core.TokenSpec) (string, core.Token)
		Commit(ctx context.Context, tokens []core.Token, events []core.AuditEvent) error
		Lookup(ctx context.Context, kind core.TokenKind, value string) (core.Token, error)
		ExchangeRefresh(ctx context.Context, t core.Token, grace time.Duration) (core.Exchange, error)
		EnableCache(kind core.TokenKind, maxAge time.Duration)
	}
	auditor interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	// guard limits failed client authentications (core.Guard).
	guard interface {
		Verify(ctx context.Context, a core.Attempt, check func() error) error
	}
)

var (
	_ secretVerifier = (*core.Credentials)(nil)
	_ tokenService   = (*core.Tokens)(nil)
	_ auditor        = (*core.Auditor)(nil)
	_ guard          = (*core.Guard)(nil)
	_ httpapi.Module = (*Module)(nil)
)

// Deps are the adapter's collaborators.
type Deps struct {
	Clock       core.Clock
	Log         *slog.Logger
	Credentials secretVerifier
	Principals  principalGetter
	CredStore   credentialLister
	Tokens      tokenService
	Replay      replayCache
	Audit       auditor
	Docs        documents
	Keys        sealer
	Guard       guard
	ClientAddr  httpapi.ClientAddr
	// Origin is the issuer and discovery base when Config.Issuer is unset
	// (never an arbitrary Host header).
	Origin httpapi.Origin
	// Admin is the core admin check of the admin API (an
	// administrator's OAuth2 access token: *core.BearerAuth); nil leaves
	// the admin API unmounted.
	Admin adminCheck
	// Services is handed to the admin API's registration functions.
	Services core.Services
	// Access decides, after PoP authentication, whether the caller may use
	// the resource (API subscriptions; internal/subscription); nil: no check.
	Access interface {
		Allow(ctx context.Context, a core.Access) error
	}
}

// DepsFrom takes the adapter's collaborators from the core services.
func DepsFrom(svc core.Services, addr httpapi.ClientAddr) Deps {
	return Deps{
		Clock: svc.Clock, Log: svc.Log, Credentials: svc.Credentials, Principals: svc.Store, CredStore: svc.Store,
		Tokens: svc.Tokens, Replay: svc.Replay, Audit: svc.Audit, Docs: svc.Store, Keys: svc.Keys, Guard: svc.Guard, ClientAddr: addr,
		Origin:   httpapi.LocalOrigin(addr),
		Admin:    svc.BearerAuth(),
		Services: svc,
	}
}

// Module is the TAAP adapter.
type Module struct {
	cfg      Config
	d        Deps
	verifier *Verifier
	clients  *clientCache
	idKeys   *core.SigningKeys
	ops      *Admin // the lifecycle operations, dropping changed clients from clients
	// explainLimit bounds what one address can make the unauthenticated
	// explainer spend (one RSA verification and a canonicalisation each).
	explainLimit *core.AddressBuckets
}

// The explainer's per-address budget: a person at the Verify page clicks
// far less; a script gets one check a second.
const (
	explainBurst     = 10
	explainPerSecond = 1
	explainMaxAddrs  = 10000
)

// New builds the adapter; cfg must have passed Validate.
func New(cfg Config, d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{cfg: cfg, d: d}
	m.verifier = NewVerifier(cfg.verifierConfig(), d.Replay, d.Clock)
	m.explainLimit = core.NewAddressBuckets(d.Clock, explainPerSecond, explainBurst, explainMaxAddrs)
	m.clients = &clientCache{principals: d.Principals, creds: d.CredStore, clock: d.Clock, ttl: cfg.ClientCacheTTL, m: map[string]*client{}}
	m.idKeys = newIDKeys(cfg, d)
	m.ops = &Admin{svc: d.Services, forget: m.clients.forget}
	if cfg.ClientCacheTTL > 0 {
		d.Tokens.EnableCache(core.TokenTAAP, cfg.ClientCacheTTL)
	}
	return m
}

// Admin returns the lifecycle operations of this node: a change through
// them takes effect on this node's key cache at once.
func (m *Module) Admin() *Admin { return m.ops }

// Verifier returns the PoP verifier, for other routes that want PoP.
func (m *Module) Verifier() *Verifier { return m.verifier }

// Register mounts the routes.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+RouteToken, m.token)
	mux.HandleFunc("GET "+RouteJWKS, m.jwks)
	mux.HandleFunc("GET "+RouteOIDC, m.discovery)
	mux.Handle("GET "+RouteDevice, m.RequirePoP(m.cfg.ResourceParts, m.RequireScope(m.cfg.ResourceScope, http.HandlerFunc(m.device))))
	if m.d.Admin != nil {
		mux.Handle("POST "+RouteClients, m.admin(core.ActClientsCreate, m.createClient))
		mux.Handle("POST "+RouteClients+"/{client_id}/keys", m.admin(core.ActClientKeysCreate, m.addKey))
		mux.Handle("POST "+RouteSIMs, m.admin(core.ActSIMsCreate, m.createSIM))
	}
	if m.cfg.Pages {
		mux.HandleFunc("POST "+RouteExplain, m.explain)
	}
}

// readBody reads the whole body (the verifier hashes it), bounded
// (httpapi.ReadBody), a refusal in the OAuth shape.
func (m *Module) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := httpapi.ReadBody(w, r, m.cfg.MaxBodyBytes)
	switch st, ok := httpapi.BodyStatus(err); {
	case st == http.StatusRequestEntityTooLarge:
		return nil, &oauthError{status: st, code: "invalid_request", desc: "request body too large"}
	case ok:
		return nil, &oauthError{status: st, code: "invalid_request", desc: core.ReasonOf(err)}
	}
	return b, err
}

// Caller is who a PoP-protected request comes from.
type Caller struct {
	Token    core.Token // the Bearer access token
	ClientID string
	PoP      *Token // the verified PoP token
	Body     []byte // the request body, already read and hashed
}

type callerKey struct{}

// CallerFrom returns the caller set by RequirePoP.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// bearerToken returns the value of "Authorization: Bearer <token>"
// (scheme case-insensitive).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	s, v, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(s, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(v), true
}

// RequirePoP wraps next so it runs only for requests with a valid TAAP
// access token (Bearer) and a valid PoP token signed by the key of the
// client that token was issued to, covering at least parts. The body is
// read here (it must be hashed) and handed to next through CallerFrom.
// The check is authenticatePoP, the taap-pop scheme's.
func (m *Module) RequirePoP(parts []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Observed as the registry observes the taap-pop scheme for the gateway.
		ctx, o := authn.Observe(r.Context(), m.d.Services.Observer, m.d.Services.Tracer, family, SchemePoP)
		c, err := m.authenticatePoP(ctx, r, m.d.ClientAddr.IP(r), parts, func() ([]byte, error) { return m.readBody(w, r) })
		o.Done(c.Token.OrgID, err)
		if err != nil {
			m.writeError(w, r, err, ctxBearer)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// authenticatePoP checks r's TAAP access token (Bearer) and its PoP
// token (X-Authorization), which must be signed by a registered key of
// the client the access token was issued to and cover at least parts
// (plus Authorization, and body when the body is not empty). body is
// called once the access token and its client are known. Failures are
// audited with addr.
func (m *Module) authenticatePoP(ctx context.Context, r *http.Request, addr string, parts []string, body func() ([]byte, error)) (Caller, error) {
	value, present := bearerToken(r)
	if !present || value == "" {
		err := &oauthError{status: http.StatusUnauthorized, code: "invalid_request", desc: "an access token is required: Authorization: Bearer <access_token>"}
		if present {
			m.auditFailureFrom(r, addr, "", "", "", err)
		}
		return Caller{}, err
	}
	t, err := m.d.Tokens.Lookup(ctx, core.TokenTAAP, value)
	if err == nil {
		var cl *client
		if cl, err = m.clients.get(ctx, t.PrincipalID); err == nil {
			var b []byte
			if b, err = body(); err == nil {
				s := FromRequest(r, b)
				var pop *Token
				pop, err = m.verifier.Verify(ctx, Input{Token: r.Header.Get("X-Authorization"), Request: s, Keys: cl.keys, Required: Required(parts, s), Scope: t.PrincipalID})
				if err == nil {
					return Caller{Token: t, ClientID: clientIDOf(t), PoP: pop, Body: b}, nil
				}
			}
		}
	}
	if k := core.KindOf(err); k != core.KindUnavailable && k != core.KindInternal {
		m.auditFailureFrom(r, addr, t.OrgID, t.PrincipalID, t.ID, err)
	}
	return Caller{}, err
}

// clientIDOf returns the client id an access token was issued to (kept in
// the token's Binding).
func clientIDOf(t core.Token) string { return t.Binding }
