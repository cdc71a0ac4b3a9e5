package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/subscription"
)

// newSubscriptionCmd is `authgate subscription`: API resources, plans and
// subscriptions, managed directly on the database. Running nodes see the
// changes within subscriptions.cache_max_age.
func newSubscriptionCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "subscription", Short: "API resources, plans (rate + quota) and subscriptions"}
	res := &cobra.Command{Use: "resource", Short: "Create, list, show or delete API resources"}
	res.AddCommand(subResourceAdd(g), subList(g, "list", "List API resources", func(cmd *cobra.Command, s *subscription.Service, _ []string) (any, error) {
		return s.ListResources(cmd.Context())
	}), subGet(g, "get NAME", "Show an API resource", func(cmd *cobra.Command, s *subscription.Service, name string) (any, error) {
		return s.GetResource(cmd.Context(), name)
	}), subRemove(g, "delete NAME", "API resource and its subscriptions", func(cmd *cobra.Command, s *subscription.Service, name string) error {
		return s.DeleteResource(cmd.Context(), cliActor, name)
	}))
	plan := &cobra.Command{Use: "plan", Short: "Create, list, show or delete plans"}
	plan.AddCommand(subPlanAdd(g), subList(g, "list", "List plans", func(cmd *cobra.Command, s *subscription.Service, _ []string) (any, error) {
		return s.ListPlans(cmd.Context())
	}), subGet(g, "get NAME", "Show a plan", func(cmd *cobra.Command, s *subscription.Service, name string) (any, error) {
		return s.GetPlan(cmd.Context(), name)
	}), subRemove(g, "delete NAME", "plan no subscription uses", func(cmd *cobra.Command, s *subscription.Service, name string) error {
		return s.DeletePlan(cmd.Context(), cliActor, name)
	}))
	var org string
	list := subList(g, "list", "List subscriptions (of --org, else all)", func(cmd *cobra.Command, s *subscription.Service, _ []string) (any, error) {
		return s.ListSubscriptions(cmd.Context(), org)
	})
	list.Flags().StringVar(&org, "org", "", "organisation id")
	c.AddCommand(res, plan, subSubscribe(g), subRemove(g, "unsubscribe ID", "subscription (by id)", func(cmd *cobra.Command, s *subscription.Service, id string) error {
		return s.Unsubscribe(cmd.Context(), cliActor, id)
	}), list, subGet(g, "get ID", "Show a subscription (by id)", func(cmd *cobra.Command, s *subscription.Service, id string) (any, error) {
		return s.GetSubscription(cmd.Context(), id)
	}), subGet(g, "usage ID", "Show a subscription's use of its rate and quota now (used, limit, reset time)", func(cmd *cobra.Command, s *subscription.Service, id string) (any, error) {
		return s.Usage(cmd.Context(), id)
	}))
	return c
}

var cliActor = subscription.Actor{RemoteAddr: "cli"}

func withSubs(g *globalFlags, fn func(cmd *cobra.Command, s *subscription.Service, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		rt, err := openRuntime(cmd.Context(), g, cmd)
		if err != nil {
			return err
		}
		defer rt.Close()
		return fn(cmd, subscription.New(rt.cfg.Subscriptions, rt.svc.Store, rt.svc.Clock, rt.svc.Audit), args)
	}
}

func subList(g *globalFlags, use, short string, fn func(*cobra.Command, *subscription.Service, []string) (any, error)) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, args []string) error {
		v, err := fn(cmd, s, args)
		if err != nil {
			return err
		}
		return printOut(cmd, v)
	})}
}

func subGet(g *globalFlags, use, short string, fn func(*cobra.Command, *subscription.Service, string) (any, error)) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, args []string) error {
			v, err := fn(cmd, s, args[0])
			if err != nil {
				return err
			}
			return printOut(cmd, v)
		})}
}

// subRemove is a delete verb; "delete NAME" keeps "rm" as an alias (the
// verb of earlier releases and of older docs).
func subRemove(g *globalFlags, use, what string, fn func(*cobra.Command, *subscription.Service, string) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: "Delete a " + what, Args: cobra.ExactArgs(1),
		RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, args []string) error {
			return fn(cmd, s, args[0])
		})}
	if strings.HasPrefix(use, "delete ") {
		c.Aliases = []string{"rm"}
	}
	return c
}

func subResourceAdd(g *globalFlags) *cobra.Command {
	var r subscription.Resource
	cmd := &cobra.Command{Use: "create NAME", Aliases: []string{"add"}, Short: "Create an API resource (add is an alias)", Args: cobra.ExactArgs(1),
		RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, args []string) error {
			r.Name = args[0]
			out, err := s.CreateResource(cmd.Context(), cliActor, r)
			if err != nil {
				return err
			}
			return printOut(cmd, out)
		})}
	f := cmd.Flags()
	f.StringVar(&r.Description, "description", "", "what the resource is")
	f.StringSliceVar(&r.PathPrefixes, "path", nil, "path prefix it covers (repeatable), e.g. /iot-connectivity/v1")
	f.StringSliceVar(&r.Methods, "method", nil, "HTTP methods it covers (default all)")
	f.StringSliceVar(&r.Schemes, "scheme", nil, "authentication schemes it accepts: "+strings.Join(subscription.Schemes, ", ")+" (default all)")
	return cmd
}

func subPlanAdd(g *globalFlags) *cobra.Command {
	var p subscription.Plan
	var ratePer, quotaPer time.Duration
	cmd := &cobra.Command{Use: "create NAME", Aliases: []string{"add"}, Short: "Create a plan: --rate N per --rate-period, --quota N per --quota-period (add is an alias)", Args: cobra.ExactArgs(1),
		RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, args []string) error {
			p.Name, p.RatePeriod, p.QuotaPeriod = args[0], subscription.Duration(ratePer), subscription.Duration(quotaPer)
			out, err := s.CreatePlan(cmd.Context(), cliActor, p)
			if err != nil {
				return err
			}
			return printOut(cmd, out)
		})}
	f := cmd.Flags()
	f.StringVar(&p.Description, "description", "", "what the plan is")
	f.Int64Var(&p.Rate, "rate", 0, "requests per rate period (0: no rate limit)")
	f.DurationVar(&ratePer, "rate-period", time.Second, "rate period")
	f.Int64Var(&p.Quota, "quota", 0, "requests per quota period (0: no quota)")
	f.DurationVar(&quotaPer, "quota-period", 24*time.Hour, "quota period (windows start at the Unix epoch, UTC)")
	return cmd
}

func subSubscribe(g *globalFlags) *cobra.Command {
	var sub subscription.Subscription
	cmd := &cobra.Command{Use: "subscribe", Short: "Subscribe an organisation (or one principal of it) to a resource",
		Args: cobra.NoArgs,
		RunE: withSubs(g, func(cmd *cobra.Command, s *subscription.Service, _ []string) error {
			out, err := s.Subscribe(cmd.Context(), cliActor, sub)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "subscribed; running nodes apply it within subscriptions.cache_max_age")
			return printOut(cmd, out)
		})}
	f := cmd.Flags()
	f.StringVar(&sub.OrgID, "org", "", "organisation id (required)")
	f.StringVar(&sub.PrincipalID, "principal", "", "principal id (default: the whole organisation)")
	f.StringVar(&sub.Resource, "resource", "", "API resource name (required)")
	f.StringVar(&sub.Plan, "plan", "", "plan name (default: unlimited)")
	return cmd
}
