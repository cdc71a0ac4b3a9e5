package cli

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/web"
)

// modules is what the protocol adapters contribute to a running server:
// routes on the main listener and background loops (extra listeners,
// outbox workers, purges). Each loop runs until ctx is cancelled.
type modules struct {
	http       []httpapi.Module
	background []func(ctx context.Context) error
	// metrics is the registry every listener's request metrics go to,
	// served on the main listener or on metrics_listen only.
	metrics *prometheus.Registry
}

// buildModules constructs every protocol adapter from the configuration.
// Each adapter adds itself below in its own block.
func buildModules(ctx context.Context, rt *runtime) (*modules, error) {
	m := &modules{metrics: prometheus.NewRegistry()}
	m.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	// Purges of expired replay keys, dead tokens and ended counter windows.
	janitor := &core.Janitor{Store: rt.svc.Store, Clock: rt.svc.Clock, Log: rt.log, AuditRetention: rt.cfg.Audit.Retention}
	m.background = append(m.background, janitor.Run)
	// API subscriptions: every protected route below checks them after authentication.
	subs := subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit)
	m.http = append(m.http, subscription.NewModule(subs, subscription.AdminAuth{Tokens: rt.svc.Tokens, Principals: rt.svc.Store, Audit: rt.svc.Audit, Addr: addr, Authz: rt.svc.Authz}, rt.log))
	// The adapters' access policy: the privilege table (resources.use), then the subscriptions.
	gate := core.AccessGate{Authz: rt.svc.Authz, Policy: subs}
	if rt.cfg.TPV.Enabled {
		td := tpv.DepsFrom(rt.svc, addr)
		td.Access = gate
		m.http = append(m.http, tpv.New(rt.cfg.TPV, td))
	}
	// One CA for every family: it issues device certificates (identities),
	// is consulted on every M2M message about the partner certificates it
	// issued, and serves its admin API.
	authority := ca.New(rt.cfg.CA, ca.DepsFrom(rt.svc))
	{
		// Device-server access keys and the OAuth2 token endpoint (family 1).
		o, err := oauth2.New(rt.svc, rt.cfg.OAuth2, oauth2.Options{Origin: origin, Addr: addr, Version: Version,
			Links: []oauth2.Link{oauth2.IdentitiesLink}, Scopes: subs})
		if err != nil {
			return nil, fmt.Errorf("oauth2: %w", err)
		}
		o.Bearer().SetAccessPolicy(gate)
		m.http = append(m.http, o)
		// Device identities (/identities: CA-issued certificates, PSKs) and the devices' mTLS listener.
		ids, err := oauth2.NewIdentities(o, authority, rt.cfg.Identities)
		if err != nil {
			return nil, fmt.Errorf("identities: %w", err)
		}
		m.http = append(m.http, ids)
		if rt.cfg.Identities.MTLSListen != "" {
			srv, err := ids.MTLSServer(ctx, httpapi.Options{Log: rt.log, Ready: rt.svc.Store, MaxInFlight: rt.cfg.MaxInFlight, Limits: rt.cfg.HTTPLimits(), Registry: m.metrics})
			if err != nil {
				return nil, fmt.Errorf("identities: %w", err)
			}
			m.background = append(m.background, srv.Run)
		}
	}
	if rt.cfg.M2M.Enabled {
		// M2M Connectivity API (family 5): TA and PE on their own HTTPS listeners, with outbox workers.
		md := m2m.DepsFrom(rt.svc, addr)
		md.Access = gate
		md.CA = authority
		mm, err := m2m.Build(ctx, rt.cfg.M2M, md)
		if err != nil {
			return nil, err
		}
		m.background = append(m.background, mm.Background(httpapi.Options{Log: rt.log, Ready: rt.svc.Store, MaxInFlight: rt.cfg.MaxInFlight, Limits: rt.cfg.HTTPLimits(), Registry: m.metrics})...)
	}
	if rt.cfg.CA.Enabled {
		// Built-in CA (family 5 certificates): admin API; CRL and root certificate public.
		m.http = append(m.http, ca.NewModule(authority, ca.TokenAuth{Tokens: rt.svc.Tokens, Principals: rt.svc.Store}, addr))
	}
	if rt.cfg.Apstrata.Enabled {
		// Apstrata token service (family 3) at /apsdb/rest.
		adeps := apstrata.DepsFrom(rt.svc, addr)
		adeps.Origin = origin
		adeps.Access = gate
		m.http = append(m.http, apstrata.New(rt.cfg.Apstrata, adeps))
	}
	if rt.cfg.TAAP.Enabled {
		// T-Mobile TAAP (family 4): PoP-protected token endpoint, JWKS, connectivity demo, admin API, pages.
		tdeps := taap.DepsFrom(rt.svc, addr)
		tdeps.Origin = origin
		tdeps.Access = gate
		m.http = append(m.http, taap.New(rt.cfg.TAAP, tdeps))
		if rt.cfg.TAAP.Pages {
			// The PoP builder and verifier pages (/pop/builder, /pop/verify).
			m.http = append(m.http, web.New())
		}
	}
	return m, ctx.Err()
}
