// Package family is the contract every protocol family (oauth2, device,
// tpv, apstrata, taap, m2m) meets so that the server's wiring, its
// configuration sections, its CLI, `authgate bench` and the cluster test
// harness iterate over one list of families instead of keeping lists of
// their own.
//
// The package is neutral: it imports the core, the HTTP plumbing, the
// scheme contract and the configuration, never an adapter. The list itself
// lives in the composition root (internal/cli, the one package that imports
// every adapter), as a function returning a List: there is no global
// registry to mutate.
package family

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// Family is one protocol family as the server builds it.
type Family struct {
	// Name is the family's stable name; every scheme it builds reports it
	// as its Family.
	Name string
	// Section is the yaml key of the family's configuration section.
	Section string
	// Enabled reports whether cfg turns the family on.
	Enabled func(cfg *config.Config) bool
	// Schemes are the names of the schemes Build may hand over, declared
	// so that the gateway's route validation, the docs and the tests know
	// them without building anything. Build refuses an undeclared one.
	Schemes []string
	// Build constructs the family from its section in d.Config and the
	// shared state in d. It runs only when Enabled.
	Build func(ctx context.Context, d Deps) (Parts, error)
}

// AccessPolicy is the access check adapters call after authentication
// (core.AccessGate: the privilege table, then subscriptions and plans).
type AccessPolicy interface {
	Allow(ctx context.Context, a core.Access) error
}

// ScopeSource lists the API resources a principal is subscribed to, which
// bound the scopes it may be granted (subscription.Service).
type ScopeSource interface {
	SubscribedResources(ctx context.Context, orgID, principalID string) ([]string, error)
}

var _ AccessPolicy = core.AccessGate{}

// Deps is the state every family shares. It is settled before the first
// family is built (replay mode chosen, access gate and CA constructed) and
// is the same for all of them, except Schemes.
type Deps struct {
	Config *config.Config
	Svc    core.Services
	Log    *slog.Logger
	Addr   httpapi.ClientAddr // client address behind trusted_proxies
	Origin httpapi.Origin     // public_url / allowed_hosts
	// Access is the access policy of every protected route; nil checks
	// nothing after authentication (tests that do not exercise it).
	Access AccessPolicy
	// Scopes bounds granted scopes by subscriptions; nil: default scopes only.
	Scopes ScopeSource
	// CA is the one certificate authority of every family (device
	// certificates, M2M partner certificates).
	CA *ca.Authority
	// Listener are the options of a family's own listeners (mTLS, M2M TA
	// and PE): logger, readiness, limits and the metrics registry.
	Listener httpapi.Options
	// Version is authgate's version (GET /versions).
	Version string
	// Outgoing wraps the transport of a family's outgoing clients (M2M
	// callbacks, gateway upstreams): W3C trace context propagation when
	// tracing is on. nil: transports as they are.
	Outgoing func(http.RoundTripper) http.RoundTripper
	// Schemes are the schemes of the families built before this one, in
	// list order: a family whose management API authenticates with
	// another family's scheme finds it here. Read it, never add to it.
	Schemes scheme.Set
}

// Parts is what a family contributes to a running server.
type Parts struct {
	// HTTP are routes on the main listener.
	HTTP []httpapi.Module
	// Background are loops (own listeners, outbox workers) that run until
	// their context is cancelled.
	Background []func(ctx context.Context) error
	// Reload are what the family re-reads on SIGHUP (its listeners'
	// certificates and keys, CRL files), without a restart.
	Reload []httpapi.Reloadable
	// Schemes are the ways the family authenticates HTTP requests, for
	// the demo resources, the gateway and forward-auth.
	Schemes []scheme.Scheme
	// Admin are the family's routes of the one admin API under /admin
	// (its objects' operations, as the CLI calls them): the composition
	// root mounts every family's with the core's on one adminapi.API.
	Admin []adminapi.Route
}

// List is the ordered list of families. Families are built in list order.
type List []Family

// Names returns the families' names in list order.
func (l List) Names() []string {
	out := make([]string, len(l))
	for i, f := range l {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the family called name.
func (l List) Lookup(name string) (Family, bool) {
	i := slices.IndexFunc(l, func(f Family) bool { return f.Name == name })
	if i < 0 {
		return Family{}, false
	}
	return l[i], true
}

// SchemeNames are every family's declared scheme names, in list order.
func (l List) SchemeNames() []string {
	var out []string
	for _, f := range l {
		out = append(out, f.Schemes...)
	}
	return out
}

// Check reports a malformed list: a family without a name, section,
// Enabled or Build, two families with one name or one section, or a scheme
// name declared twice.
func (l List) Check() error {
	var errs []error
	names, sections, schemes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, f := range l {
		for _, s := range f.Schemes {
			if s == "" || schemes[s] {
				errs = append(errs, fmt.Errorf("family %q: scheme name %q is empty or declared twice", f.Name, s))
			}
			schemes[s] = true
		}
		switch {
		case f.Name == "":
			errs = append(errs, fmt.Errorf("family %d has no name", i))
		case names[f.Name]:
			errs = append(errs, fmt.Errorf("family %q is listed twice", f.Name))
		}
		names[f.Name] = true
		if f.Section == "" {
			errs = append(errs, fmt.Errorf("family %q has no configuration section", f.Name))
		} else if sections[f.Section] {
			errs = append(errs, fmt.Errorf("family %q: configuration section %q belongs to another family", f.Name, f.Section))
		}
		sections[f.Section] = true
		if f.Enabled == nil || f.Build == nil {
			errs = append(errs, fmt.Errorf("family %q needs Enabled and Build", f.Name))
		}
	}
	return errors.Join(errs...)
}

// Enabled returns the families d.Config turns on, in list order.
func (l List) Enabled(cfg *config.Config) List {
	var out List
	for _, f := range l {
		if f.Enabled(cfg) {
			out = append(out, f)
		}
	}
	return out
}

// Built is what the enabled families contribute, together.
type Built struct {
	Parts
	// Set holds every enabled family's schemes by name: what the gateway
	// and forward-auth authenticate with.
	Set scheme.Set
	// Families are the names of the families that were built.
	Families []string
}

// Build builds every family d.Config enables, in list order, and collects
// their parts. A scheme whose Family is not the family that built it,
// which the family did not declare, or whose name another scheme already
// has, is an error: names are what routes, metrics and audit records
// refer to.
func (l List) Build(ctx context.Context, d Deps) (*Built, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	if d.Config == nil {
		return nil, errors.New("family: no configuration")
	}
	on := l.Enabled(d.Config)
	b := &Built{Set: scheme.Set{}, Families: on.Names()}
	for _, f := range on {
		d.Schemes = maps.Clone(b.Set) // a family cannot change what later ones see
		p, err := f.Build(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		for i, s := range p.Schemes {
			// One span and one counted outcome per check (a no-op for a
			// scheme its adapter instrumented already).
			s = scheme.Instrumented(s, d.Svc.Observer, d.Svc.Tracer)
			p.Schemes[i] = s
			if s.Family() != f.Name {
				return nil, fmt.Errorf("%s: scheme %q says it belongs to family %q", f.Name, s.Name(), s.Family())
			}
			if !slices.Contains(f.Schemes, s.Name()) {
				return nil, fmt.Errorf("%s: scheme %q is not declared in the family's Schemes", f.Name, s.Name())
			}
			if _, dup := b.Set[s.Name()]; dup {
				return nil, fmt.Errorf("%s: scheme %q is built twice", f.Name, s.Name())
			}
			b.Set.Add(s)
		}
		b.HTTP = append(b.HTTP, p.HTTP...)
		b.Background = append(b.Background, p.Background...)
		b.Reload = append(b.Reload, p.Reload...)
		b.Schemes = append(b.Schemes, p.Schemes...)
		b.Admin = append(b.Admin, p.Admin...)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return b, nil
}
