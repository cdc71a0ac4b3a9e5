package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/telemetry"
)

// modules is what a running server serves: routes on the main listener
// and background loops (extra listeners, outbox workers, purges). Each
// loop runs until ctx is cancelled.
type modules struct {
	http       []httpapi.Module
	background []func(ctx context.Context) error
	// metrics is the registry every listener's request metrics go to,
	// served on the main listener or on metrics_listen only.
	metrics *prometheus.Registry
	// schemes are every enabled family's schemes by name.
	schemes scheme.Set
	// certs reports the expiry of every served and CA certificate.
	certs *telemetry.CertificateExpiry
	// gateway is the route table (nil unless gateway.enabled): the main
	// listener's fallback for requests no built-in route serves.
	gateway *gateway.Gateway
	// tracing is the tracer provider of every listener and outgoing client
	// (a no-op unless tracing.enabled); serve shuts it down last.
	tracing *telemetry.Tracing
	// reload are what SIGHUP re-reads.
	reload []httpapi.Reloadable
	// admin is the one admin API under /admin: the core's routes and
	// every module's and family's, on one mount.
	admin *adminapi.API
}

// buildModules settles the state the families share (client address and
// origin, the access gate over the privilege table and subscriptions, the
// CA, the listeners' options), serves the services that are no family's
// (purges, subscriptions, the CA's API), then builds every enabled family
// from the one list. The replay mode is already chosen (serve calls
// useReplayMode first): families capture svc.Replay when they are built.
func buildModules(ctx context.Context, rt *runtime) (*modules, error) {
	m := &modules{metrics: prometheus.NewRegistry()}
	m.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var recent *telemetry.Recent
	m.certs, recent = registerTelemetry(rt, m.metrics)
	var err error
	if m.tracing, err = startTracing(ctx, rt); err != nil {
		return nil, err
	}
	trusted, err := httpapi.ParsePrefixes(rt.cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	addr := httpapi.ClientAddr{Trusted: trusted}
	origin, err := httpapi.NewOrigin(rt.cfg.PublicURL, rt.cfg.AllowedHosts, addr)
	if err != nil {
		return nil, err
	}
	if !origin.Public() {
		rt.log.Warn("public_url is not set: links, discovery and token issuers name the address each request arrived on (or an allowed_hosts Host); set public_url for a stable issuer")
	}
	// Purges of expired replay keys, dead tokens, ended counter windows, old
	// audit events and finished outbox jobs.
	janitor := &core.Janitor{Store: rt.svc.Store, Clock: rt.svc.Clock, Log: rt.log, AuditRetention: rt.cfg.Audit.Retention,
		DoneJobRetention: rt.cfg.Outbox.DoneRetention, FailedJobRetention: rt.cfg.Outbox.FailedRetention}
	m.background = append(m.background, janitor.Run)
	// The database's active master key, followed so a rotation run anywhere switches this node too.
	node := nodeName()
	m.background = append(m.background, func(ctx context.Context) error {
		return rt.svc.WatchKeyring(ctx, node, rt.cfg.MasterKeyRefresh)
	})
	// API subscriptions: every protected route checks them after authentication.
	subs := subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit)
	admin := [][]adminapi.Route{adminapi.Objects{Ops: rt.svc}.AdminRoutes(), adminapi.Audit{Log: rt.svc.Audit}.AdminRoutes(), subs.AdminRoutes()}
	// One CA for every family: it issues device certificates (identities),
	// is consulted on every M2M message about the partner certificates it
	// issued, and serves its admin API (CRL and root certificate public).
	authority := ca.New(rt.cfg.CA, ca.DepsFrom(rt.svc))
	m.certs.Add("ca", caCertificates(authority))
	if rt.cfg.CA.Enabled {
		m.http = append(m.http, ca.NewModule(authority, rt.svc.BearerAuth(), addr))
	}
	cfg := rt.cfg
	fd := family.Deps{
		Config: &cfg, Svc: rt.svc, Log: rt.log, Addr: addr, Origin: origin,
		// The families' access policy: the privilege table (resources.use), then the subscriptions.
		Access: core.AccessGate{Authz: rt.svc.Authz, Policy: subs},
		Scopes: subs, CA: authority, Version: Version, Outgoing: m.tracing.Transport,
		Listener: httpapi.Options{Log: rt.log, Ready: rt.svc.Store, MaxInFlight: rt.cfg.MaxInFlight, Limits: rt.cfg.HTTPLimits(), Registry: m.metrics, Tracing: m.tracing, Certificates: m.certs},
	}
	built, err := Families().Build(ctx, fd)
	if err != nil {
		return nil, err
	}
	m.http = append(m.http, built.HTTP...)
	m.background = append(m.background, built.Background...)
	m.reload = append(m.reload, built.Reload...)
	m.schemes = built.Set
	if rt.cfg.Gateway.Enabled {
		gw, err := gateway.New(rt.cfg.Gateway, gateway.Deps{Schemes: built.Set, Authz: rt.svc.Authz, Policy: subs,
			Docs: rt.svc.Store, Seal: rt.svc.Keys, Clock: rt.svc.Clock, Audit: rt.svc.Audit, Log: rt.log, Issuer: origin.Base, Addr: addr,
			Outgoing: m.tracing.Transport, Routes: rt.svc.Store, Metrics: m.metrics})
		if err != nil {
			return nil, err
		}
		// The JWKS, the forward-auth endpoint (the same table), the stored
		// routes' admin routes, and the poll that serves their changes.
		m.http = append(m.http, gw, gateway.NewForwardAuth(gw))
		admin = append(admin, gw.Admin().AdminRoutes())
		m.background = append(m.background, gw.Run)
		m.gateway = gw
	}
	// The admin console: its sessions sign in with the oauth2 family's
	// password grant (a module of its own, as the mTLS listener's, whose
	// routes are not mounted) and authenticate admin API requests.
	var sessions adminapi.Sessions
	if rt.cfg.Console.Enabled {
		o, err := newOAuth2(fd)
		if err != nil {
			return nil, err
		}
		con := console.New(rt.cfg.Console, console.Deps{Grant: o, Tokens: rt.svc.Tokens, Audit: rt.svc.Audit, Keys: rt.svc.Keys,
			Clock: rt.svc.Clock, Addr: addr, Log: rt.log, Routes: func() []adminapi.Route { return m.admin.Routes() }})
		sessions = con
		m.http = append(m.http, con)
	}
	// The one admin API: the core's records, the subscriptions, the
	// gateway's stored routes, the CA's, the dashboard (this node's
	// counters, certificates expiring, the outbox), then every family's routes.
	if rt.cfg.CA.Enabled {
		admin = append(admin, ca.NewAdmin(authority).AdminRoutes())
	}
	dash := telemetry.NewDashboard(telemetry.DashboardDeps{Recent: recent, Certificates: m.certs, Issued: issuedExpiring(authority),
		Jobs: rt.svc.Store, Clock: rt.svc.Clock, Log: rt.log})
	admin = append(admin, dash.AdminRoutes())
	m.admin, err = adminapi.New(adminapi.Deps{Bearer: rt.svc.BearerAuth(), Authz: rt.svc.Authz, Sessions: sessions, Addr: addr, Log: rt.log,
		Observer: rt.svc.Observer, Tracer: rt.svc.Tracer},
		append(admin, built.Admin)...)
	if err != nil {
		return nil, err
	}
	m.http = append(m.http, m.admin)
	return m, ctx.Err()
}

// The console signs in with the OAuth2 family's own password grant.
var _ console.Granter = (*oauth2.Module)(nil)

// nodeName names this process in the keyring's list of running nodes:
// host name, process id and a random suffix (a restarted node is another).
func nodeName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), core.NewID()[:8])
}
