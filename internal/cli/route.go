package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/gateway"
)

// newRouteCmd is `authgate route`: gateway routes stored in the database,
// managed directly on it (the admin API /admin/gateway/routes does the
// same on a running node). Running nodes serve a change within
// gateway.route_poll.
func newRouteCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "route", Short: "Gateway routes stored in the database (create, list, get, delete)"}
	c.AddCommand(routeCreateCmd(g),
		&cobra.Command{Use: "list", Short: "List the configured and stored routes", Args: cobra.NoArgs,
			RunE: withRoutes(g, func(cmd *cobra.Command, a *gateway.RouteAdmin, _ []string) error {
				l, err := a.List(cmd.Context())
				if err != nil {
					return err
				}
				return printOut(cmd, l)
			})},
		&cobra.Command{Use: "get NAME", Short: "Show one route", Args: cobra.ExactArgs(1),
			RunE: withRoutes(g, func(cmd *cobra.Command, a *gateway.RouteAdmin, args []string) error {
				r, err := a.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printOut(cmd, r)
			})},
		&cobra.Command{Use: "delete NAME", Short: "Delete a stored route", Args: cobra.ExactArgs(1),
			RunE: withRoutes(g, func(cmd *cobra.Command, a *gateway.RouteAdmin, args []string) error {
				if err := a.Delete(cmd.Context(), gateway.Actor{RemoteAddr: "cli"}, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "deleted route %s; running nodes stop serving it within gateway.route_poll\n", args[0])
				return nil
			})})
	return c
}

func withRoutes(g *globalFlags, fn func(cmd *cobra.Command, a *gateway.RouteAdmin, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		rt, err := openRuntime(cmd.Context(), g, cmd)
		if err != nil {
			return err
		}
		defer rt.Close()
		return fn(cmd, gateway.NewRouteAdmin(rt.cfg.Gateway, rt.svc.Store, rt.svc.Audit, rt.svc.Clock), args)
	}
}

func routeCreateCmd(g *globalFlags) *cobra.Command {
	var r gateway.Route
	var timeout time.Duration
	cmd := &cobra.Command{Use: "create NAME", Short: "Store a route: --path-prefix, --scheme, --upstream (and the optional match and checks)",
		Args: cobra.ExactArgs(1),
		RunE: withRoutes(g, func(cmd *cobra.Command, a *gateway.RouteAdmin, args []string) error {
			r.Name, r.Timeout = args[0], gateway.Duration(timeout)
			out, err := a.Create(cmd.Context(), gateway.Actor{RemoteAddr: "cli"}, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "created; running nodes serve it within gateway.route_poll")
			return printOut(cmd, out)
		})}
	f := cmd.Flags()
	f.StringSliceVar(&r.Hosts, "host", nil, "host name it serves (repeatable; default any host)")
	f.StringVar(&r.PathPrefix, "path-prefix", "", "path prefix: /api matches /api and /api/... (required)")
	f.StringSliceVar(&r.Methods, "method", nil, "HTTP method it takes (repeatable; default all)")
	f.StringSliceVar(&r.Schemes, "scheme", nil, "accepted scheme (repeatable, required): "+strings.Join(gateway.KnownSchemes, ", "))
	f.StringVar(&r.Resource, "resource", "", "API subscription resource the caller must be subscribed to")
	f.StringVar(&r.Scope, "scope", "", "scope tokens the credential must hold (space-separated)")
	f.StringSliceVar(&r.Upstreams, "upstream", nil, "upstream base URL (repeatable, round-robin; required)")
	f.BoolVar(&r.StripPrefix, "strip-prefix", false, "remove the path prefix before the upstream")
	f.DurationVar(&timeout, "timeout", 0, "upstream timeout up to the response headers (default 30s)")
	f.BoolVar(&r.PassCredentials, "pass-credentials", false, "forward the client's credentials upstream")
	return cmd
}
