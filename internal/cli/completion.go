package cli

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/subscription"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// completer lists the candidates of one argument or flag ("value\tdescription").
type completer func(cmd *cobra.Command, g *globalFlags) ([]string, error)

// completions are the dynamic completions of `authgate completion
// bash|zsh|fish|powershell` (cobra's), by command path: ids read from the
// store for administration commands, partner names from the
// configuration, M2M operations and bench schemes from their lists.
var (
	argCompletions = map[string]completer{
		"subscription unsubscribe":     storeCompleter(subscriptionIDs),
		"subscription get":             storeCompleter(subscriptionIDs),
		"subscription usage":           storeCompleter(subscriptionIDs),
		"subscription resource get":    storeCompleter(resourceNames),
		"subscription resource delete": storeCompleter(resourceNames),
		"subscription plan get":        storeCompleter(planNames),
		"subscription plan delete":     storeCompleter(planNames),
		"ca revoke":                    storeCompleter(certificateSerials(false)),
		"ca get":                       storeCompleter(certificateSerials(true)),
		"route get":                    storeCompleter(routeNames),
		"route delete":                 storeCompleter(routeNames),
		"admin org get":                storeCompleter(orgIDs),
		"taap client get":              storeCompleter(taapClientIDs),
		"taap client delete":           storeCompleter(taapClientIDs),
		"taap sim get":                 storeCompleter(taapICCIDs),
		"taap sim delete":              storeCompleter(taapICCIDs),
		"tpv brand get":                storeCompleter(tpvBrandIDs),
		"tpv brand delete":             storeCompleter(tpvBrandIDs),
		"apstrata account get":         storeCompleter(apstrataAuthKeys),
		"apstrata account delete":      storeCompleter(apstrataAuthKeys),
		"m2m apikey get":               storeCompleter(m2mAPIKeyIDs(true)),
		"m2m apikey revoke":            storeCompleter(m2mAPIKeyIDs(false)),
		"m2m partner get":              partnerNames,
		"m2m outbox requeue":           storeCompleter(failedJobIDs),
		"m2m call":                     fixed(sdk.OpSIMUsageGet, sdk.OpSIMStateGet, sdk.OpSIMActivation, sdk.OpSIMDeactivation, sdk.OpSIMSuspend, sdk.OpSIMResume, sdk.OpSIMTariffChange),
	}
	flagCompletions = map[string]map[string]completer{
		"admin principal create":   {"org": storeCompleter(orgIDs)},
		"admin principal list":     {"org": storeCompleter(orgIDs)},
		"admin audit":              {"org": storeCompleter(orgIDs)},
		"subscription subscribe":   {"org": storeCompleter(orgIDs)},
		"subscription list":        {"org": storeCompleter(orgIDs)},
		"tpv brand create":         {"org": storeCompleter(orgIDs)},
		"tpv brand list":           {"org": storeCompleter(orgIDs)},
		"taap client create":       {"org": storeCompleter(orgIDs)},
		"taap client list":         {"org": storeCompleter(orgIDs)},
		"taap sim create":          {"org": storeCompleter(orgIDs)},
		"taap sim list":            {"org": storeCompleter(orgIDs)},
		"taap client key create":   {"client": storeCompleter(taapClientIDs)},
		"taap client key list":     {"client": storeCompleter(taapClientIDs)},
		"taap client key get":      {"client": storeCompleter(taapClientIDs)},
		"taap client key revoke":   {"client": storeCompleter(taapClientIDs)},
		"tpv brand product create": {"brand": storeCompleter(tpvBrandIDs)},
		"tpv brand product list":   {"brand": storeCompleter(tpvBrandIDs)},
		"tpv brand product get":    {"brand": storeCompleter(tpvBrandIDs)},
		"tpv brand product delete": {"brand": storeCompleter(tpvBrandIDs)},
		"m2m apikey":               {"partner": partnerNames},
		"m2m apikey create":        {"partner": partnerNames},
		"m2m apikey list":          {"partner": partnerNames},
		"m2m sim add":              {"partner": partnerNames},
		"m2m sim list":             {"partner": partnerNames},
		"apstrata member create":   {"auth-key": storeCompleter(apstrataAuthKeys)},
		"apstrata member list":     {"auth-key": storeCompleter(apstrataAuthKeys)},
		"apstrata member get":      {"auth-key": storeCompleter(apstrataAuthKeys)},
		"apstrata member delete":   {"auth-key": storeCompleter(apstrataAuthKeys)},
		"bench":                    {"schemes": func(*cobra.Command, *globalFlags) ([]string, error) { return benchNames(), nil }},
	}
)

// registerCompletions attaches the completions to the commands under root.
func registerCompletions(root *cobra.Command, g *globalFlags) {
	walkCommands(root, func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if fn, ok := argCompletions[path]; ok {
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return complete(cmd, g, fn)
			}
		}
		for name, fn := range flagCompletions[path] {
			_ = c.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
				return complete(cmd, g, fn)
			})
		}
	})
}

func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

func complete(cmd *cobra.Command, g *globalFlags, fn completer) ([]string, cobra.ShellCompDirective) {
	out, err := fn(cmd, g)
	if err != nil {
		cobra.CompDebugln("authgate: "+err.Error(), true)
		return nil, cobra.ShellCompDirectiveError
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func fixed(values ...string) completer {
	return func(*cobra.Command, *globalFlags) ([]string, error) { return values, nil }
}

// completionLimit bounds what one completion reads from the store.
const completionLimit = 200

// storeCompleter opens the store the command's flags name, read-only in
// effect: a completion never creates a data directory, a master key or a
// SQLite database that is not there yet.
func storeCompleter(fn func(ctx context.Context, rt *runtime) ([]string, error)) completer {
	return func(cmd *cobra.Command, g *globalFlags) ([]string, error) {
		cfg, err := g.load(cmd)
		if err != nil {
			return nil, err
		}
		if cfg.DB == "" {
			if _, err := os.Stat(filepath.Join(cfg.DataDir, "authgate.db")); errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		rt, err := openRuntime(ctx, g, cmd)
		if err != nil {
			return nil, err
		}
		defer rt.Close()
		return fn(ctx, rt)
	}
}

func orgIDs(ctx context.Context, rt *runtime) ([]string, error) {
	orgs, _, err := rt.svc.Store.ListOrganisations(ctx, core.Page{Limit: completionLimit})
	out := make([]string, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, o.ID+"\t"+o.Name)
	}
	return out, err
}

func taapClientIDs(ctx context.Context, rt *runtime) ([]string, error) {
	ops, who := taapOps(rt)
	cs, _, err := ops.ListClients(ctx, who, "", core.Page{Limit: completionLimit})
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ClientID+"\t"+c.Name)
	}
	return out, err
}

func taapICCIDs(ctx context.Context, rt *runtime) ([]string, error) {
	ops, who := taapOps(rt)
	ss, _, err := ops.ListSIMs(ctx, who, "", core.Page{Limit: completionLimit})
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.ICCID+"\t"+s.Label)
	}
	return out, err
}

func tpvBrandIDs(ctx context.Context, rt *runtime) ([]string, error) {
	ops, who := tpvOps(rt)
	bs, _, err := ops.ListBrands(ctx, who, "", core.Page{Limit: completionLimit})
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.BrandID+"\t"+b.Name)
	}
	return out, err
}

func subscriptionIDs(ctx context.Context, rt *runtime) ([]string, error) {
	subs, err := subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit).ListSubscriptions(ctx, "")
	var out []string
	for i, s := range subs {
		if i == completionLimit {
			break
		}
		out = append(out, s.ID+"\t"+s.Resource+" for "+s.OrgID)
	}
	return out, err
}

func resourceNames(ctx context.Context, rt *runtime) ([]string, error) {
	rs, err := subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit).ListResources(ctx)
	var out []string
	for _, r := range rs[:min(len(rs), completionLimit)] {
		out = append(out, r.Name+"\t"+strings.Join(r.PathPrefixes, " "))
	}
	return out, err
}

func planNames(ctx context.Context, rt *runtime) ([]string, error) {
	ps, err := subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit).ListPlans(ctx)
	var out []string
	for _, p := range ps[:min(len(ps), completionLimit)] {
		out = append(out, p.Name+"\t"+p.Description)
	}
	return out, err
}

// certificateSerials lists the serials of issued certificates, the
// revoked ones too when withRevoked.
func certificateSerials(withRevoked bool) func(ctx context.Context, rt *runtime) ([]string, error) {
	return func(ctx context.Context, rt *runtime) ([]string, error) {
		recs, _, err := ca.New(rt.cfg.CA, ca.DepsFrom(rt.svc)).List(ctx, "", core.Page{Limit: completionLimit})
		var out []string
		for _, r := range recs {
			if withRevoked || r.RevokedAt == nil {
				out = append(out, r.Serial+"\t"+r.Subject)
			}
		}
		return out, err
	}
}

func routeNames(ctx context.Context, rt *runtime) ([]string, error) {
	routes, err := gateway.NewRouteAdmin(rt.cfg.Gateway, rt.svc.Store, rt.svc.Audit, rt.svc.Clock).List(ctx)
	var out []string
	for _, r := range routes {
		out = append(out, r.Name+"\t"+r.Source+" "+r.PathPrefix)
	}
	return out, err
}

// apstrataAuthKeys are the live accounts' authKeys, with their names.
func apstrataAuthKeys(ctx context.Context, rt *runtime) ([]string, error) {
	l, err := apstrata.NewAccounts(rt.svc).ListAccounts(ctx, core.Operator{}, apstrata.ListAccountsRequest{Page: core.Page{Limit: completionLimit}})
	out := make([]string, 0, len(l.Items))
	for _, a := range l.Items {
		out = append(out, a.AuthKey+"\t"+a.Name)
	}
	return out, err
}

// m2mAPIKeyIDs are the ids of the M2MApiKeys (revoked ones too when all).
func m2mAPIKeyIDs(all bool) func(ctx context.Context, rt *runtime) ([]string, error) {
	return func(ctx context.Context, rt *runtime) ([]string, error) {
		l, err := m2mAdmin(rt).ListAPIKeys(ctx, core.Operator{}, m2m.ListRequest{IncludeRevoked: all, Page: core.Page{Limit: completionLimit}})
		out := make([]string, 0, len(l.Items))
		for _, k := range l.Items {
			out = append(out, k.ID+"\t"+k.Partner+" "+k.Env)
		}
		return out, err
	}
}

// failedJobIDs are the M2M outbox jobs that may be requeued.
func failedJobIDs(ctx context.Context, rt *runtime) ([]string, error) {
	l, err := m2mAdmin(rt).ListOutbox(ctx, core.Operator{}, m2m.ListRequest{State: core.JobFailed, Page: core.Page{Limit: completionLimit}})
	out := make([]string, 0, len(l.Items))
	for _, j := range l.Items {
		out = append(out, j.ID+"\t"+j.Partner+" "+j.Kind)
	}
	return out, err
}

// partnerNames are the partners the configuration lists in --env.
func partnerNames(cmd *cobra.Command, g *globalFlags) ([]string, error) {
	cfg, err := g.load(cmd)
	if err != nil {
		return nil, err
	}
	env := "TA"
	if f := cmd.Flags().Lookup("env"); f != nil {
		env = strings.ToUpper(f.Value.String())
	}
	ec, ok := cfg.M2M.Envs()[env]
	if !ok {
		return nil, nil
	}
	var out []string
	for _, p := range ec.Partners {
		out = append(out, p.Name)
	}
	return out, nil
}
