package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/web"
)

// member is one entry of the family list: the family as the server builds
// it, plus what only the command line knows about it.
type member struct {
	family.Family
	// commands are the family's client and admin commands.
	commands func(g *globalFlags) []*cobra.Command
	// bench are the family's `authgate bench` cases.
	bench benchCases
}

// members is the one list of protocol families, in build order. A new
// family is one entry here (and its adapter package).
func members() []member {
	return []member{
		{Family: family.Family{Name: "oauth2", Section: "oauth2", Enabled: always, Schemes: []string{oauth2.SchemeBearer}, Build: buildOAuth2},
			commands: func(*globalFlags) []*cobra.Command { return []*cobra.Command{newTokenCmd()} },
			bench:    benchCases{names: []string{"bearer", "password"}, build: oauth2BenchCases}},
		{Family: family.Family{Name: "tpv", Section: "tpv", Schemes: []string{tpv.SchemeName}, Enabled: func(c *config.Config) bool { return c.TPV.Enabled }, Build: buildTPV},
			commands: func(g *globalFlags) []*cobra.Command { return []*cobra.Command{newTPVCmd(g)} },
			bench:    benchCases{names: []string{"tpv"}, build: tpvBenchCases}},
		{Family: family.Family{Name: "apstrata", Section: "apstrata", Schemes: []string{apstrata.SchemeName}, Enabled: func(c *config.Config) bool { return c.Apstrata.Enabled }, Build: buildApstrata},
			commands: func(g *globalFlags) []*cobra.Command { return []*cobra.Command{newApstrataCmd(g)} },
			bench:    benchCases{names: []string{"apstrata"}, build: apstrataBenchCases}},
		// No HTTP scheme: WS-Security is checked on the SOAP messages of M2M's own listeners.
		{Family: family.Family{Name: "m2m", Section: "m2m", Enabled: func(c *config.Config) bool { return c.M2M.Enabled }, Build: buildM2M},
			commands: func(g *globalFlags) []*cobra.Command { return []*cobra.Command{newM2MCmd(g), newCSRCmd()} },
			bench:    benchCases{names: []string{"wss"}, build: m2mBenchCases}},
		{Family: family.Family{Name: "taap", Section: "taap", Schemes: []string{taap.SchemePoP}, Enabled: func(c *config.Config) bool { return c.TAAP.Enabled }, Build: buildTAAP},
			commands: func(g *globalFlags) []*cobra.Command {
				return []*cobra.Command{newPopCmd(), g.server(newTAAPCmd(g))[0]}
			},
			bench: benchCases{names: []string{"pop", "pop-device"}, build: taapBenchCases}},
		// The device-server API's device identities (/identities) and the devices' mTLS listener.
		{Family: family.Family{Name: device.Family, Section: "identities", Enabled: always, Schemes: []string{device.SchemeMTLS}, Build: buildDevice},
			commands: func(*globalFlags) []*cobra.Command { return nil },
			bench:    benchCases{none: "a device certificate is checked once per TLS connection; its requests then cost what the bearer case measures"}},
	}
}

// Families is the list of protocol families, for callers outside the
// command line (the cluster test harness builds its nodes from it).
func Families() family.List {
	ms := members()
	out := make(family.List, len(ms))
	for i, m := range ms {
		out[i] = m.Family
	}
	return out
}

// familyCommands are every family's commands, in list order.
func familyCommands(g *globalFlags) []*cobra.Command {
	var out []*cobra.Command
	for _, m := range members() {
		if m.commands != nil {
			out = append(out, m.commands(g)...)
		}
	}
	return out
}

var errNoCA = errors.New("needs the certificate authority (family.Deps.CA)")

func always(*config.Config) bool { return true }

// buildOAuth2 builds device-server access keys and the OAuth2 token
// endpoint (family 1).
func buildOAuth2(_ context.Context, d family.Deps) (family.Parts, error) {
	o, err := newOAuth2(d)
	if err != nil {
		return family.Parts{}, err
	}
	return family.Parts{HTTP: []httpapi.Module{o}, Schemes: o.Schemes()}, nil
}

// newOAuth2 is the oauth2 module of d.
func newOAuth2(d family.Deps) (*oauth2.Module, error) {
	o, err := oauth2.New(d.Svc, d.Config.OAuth2, oauth2.Options{Origin: d.Origin, Addr: d.Addr, Version: d.Version,
		Links: []oauth2.Link{oauth2.IdentitiesLink}, Scopes: d.Scopes})
	if err != nil {
		return nil, err
	}
	if d.Access != nil {
		o.Bearer().SetAccessPolicy(d.Access)
	}
	return o, nil
}

// buildDevice builds the device identities (/identities: CA-issued
// certificates, PSKs) and, with identities.mtls_listen, the devices' mTLS
// listener, which also serves the device-server API's oauth2 routes and
// the token endpoint's tls_client_auth (an oauth2 module of its own,
// handed the device-mtls scheme).
func buildDevice(ctx context.Context, d family.Deps) (family.Parts, error) {
	var p family.Parts
	if d.CA == nil {
		return p, errNoCA
	}
	ids, err := device.New(d.Svc, d.CA, d.Config.Identities, device.Options{Origin: d.Origin, Addr: d.Addr,
		DefaultPageSize: d.Config.OAuth2.DefaultPageSize, MaxPageSize: d.Config.OAuth2.MaxPageSize, Access: d.Access})
	if err != nil {
		return p, err
	}
	p.HTTP, p.Schemes = []httpapi.Module{ids}, ids.Schemes()
	if d.Config.Identities.MTLSListen != "" {
		o, err := newOAuth2(d)
		if err != nil {
			return p, err
		}
		srv, err := ids.MTLSServer(ctx, d.Listener, o, o.TLSClientAuth(ids.Schemes()[0]))
		if err != nil {
			return p, err
		}
		p.Background = append(p.Background, srv.Run)
		p.Reload = append(p.Reload, httpapi.Reloadable{Name: "identities tls_cert/tls_key and device issuers", Reload: ids.ReloadMTLS})
	}
	return p, nil
}

// buildTPV builds the TPV Hub login, Signature and API (family 2).
func buildTPV(_ context.Context, d family.Deps) (family.Parts, error) {
	td := tpv.DepsFrom(d.Svc, d.Addr)
	td.Access = d.Access
	t := tpv.New(d.Config.TPV, td)
	return family.Parts{HTTP: []httpapi.Module{t}, Schemes: t.Schemes(), Admin: tpv.NewAdmin(d.Svc).AdminRoutes()}, nil
}

// buildApstrata builds the Apstrata token service at /apsdb/rest (family 3).
func buildApstrata(_ context.Context, d family.Deps) (family.Parts, error) {
	ad := apstrata.DepsFrom(d.Svc, d.Addr)
	ad.Origin = d.Origin
	ad.Access = d.Access
	a := apstrata.New(d.Config.Apstrata, ad)
	return family.Parts{HTTP: []httpapi.Module{a}, Schemes: a.Schemes(), Admin: apstrata.NewAccounts(d.Svc).AdminRoutes()}, nil
}

// buildTAAP builds T-Mobile TAAP (family 4): the PoP-protected token
// endpoint, JWKS, the connectivity demo, its admin API and, with pages on,
// the PoP builder and verifier pages (/pop/builder, /pop/verify).
func buildTAAP(_ context.Context, d family.Deps) (family.Parts, error) {
	td := taap.DepsFrom(d.Svc, d.Addr)
	td.Origin = d.Origin
	td.Access = d.Access
	t := taap.New(d.Config.TAAP, td)
	p := family.Parts{HTTP: []httpapi.Module{t}, Schemes: t.Schemes(), Admin: t.Admin().AdminRoutes()}
	if d.Config.TAAP.Pages {
		p.HTTP = append(p.HTTP, web.New())
	}
	return p, nil
}

// buildM2M builds the M2M Connectivity API (family 5): TA and PE on their
// own HTTPS listeners, with their outbox workers, and the admin routes of
// its partners, keys, SIMs and outbox. The CA is consulted on
// every message about the partner certificates it issued.
func buildM2M(ctx context.Context, d family.Deps) (family.Parts, error) {
	if d.CA == nil {
		return family.Parts{}, errNoCA
	}
	md := m2m.DepsFrom(d.Svc, d.Addr)
	md.Access = d.Access
	md.CA = d.CA
	md.Outgoing = d.Outgoing
	mm, err := m2m.Build(ctx, d.Config.M2M, md)
	if err != nil {
		return family.Parts{}, err
	}
	return family.Parts{Background: mm.Background(d.Listener), Reload: mm.Reloadables(),
		Admin: m2m.NewAdmin(d.Config.M2M, d.Svc).AdminRoutes()}, nil
}
