package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
)

// The get, list and disable verbs of the core's own objects. The object's
// own id is the positional argument of every verb that names one object
// (as in `route get NAME`, `ca revoke SERIAL`, `subscription unsubscribe
// ID`); the objects it belongs to are flags (--org, --principal).

// listLimit is the most one list command prints (with the total).
const listLimit = 1000

// orgListCmd is the `list [--org ID]` verb of a family's objects: at most
// listLimit of them, of one organisation when --org is given.
func orgListCmd[T any](g *globalFlags, short string, list func(ctx context.Context, rt *runtime, orgID string, page core.Page) ([]T, int, error)) *cobra.Command {
	var orgID string
	cmd := &cobra.Command{Use: "list", Short: short, Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			items, total, err := list(cmd.Context(), rt, orgID, core.Page{Limit: listLimit})
			return listed(items, total), err
		})}
	cmd.Flags().StringVar(&orgID, "org", "", "organisation id")
	return cmd
}

// listed is a list command's answer: the items (never null) and their total.
func listed[T any](items []T, total int) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"total": total, "items": items}
}

func newAdminOrgGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show an organisation", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return rt.svc.GetOrganisation(cmd.Context(), core.Operator{}, args[0])
		})}
}

func newAdminPrincipalGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show a principal", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return rt.svc.GetPrincipal(cmd.Context(), core.Operator{}, args[0])
		})}
}

func newAdminPrincipalDisableCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "disable ID", Short: "Disable a principal and revoke every token issued to it", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return rt.svc.DisablePrincipal(cmd.Context(), core.Operator{}, args[0])
		})}
}

func newAdminCredentialListCmd(g *globalFlags) *cobra.Command {
	var f core.CredentialFilter
	cmd := &cobra.Command{Use: "list", Short: "List the credentials of a principal or an organisation (never their secrets)", Args: cobra.NoArgs,
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, _ []string) (any, error) {
			if f.OrgID == "" && f.PrincipalID == "" {
				return nil, usageError(errNeedOwner)
			}
			cs, total, err := rt.svc.ListCredentials(cmd.Context(), core.Operator{}, f, core.Page{Limit: listLimit})
			return listed(cs, total), err
		})}
	cmd.Flags().StringVar(&f.OrgID, "org", "", "organisation id")
	cmd.Flags().StringVar(&f.PrincipalID, "principal", "", "principal id")
	cmd.Flags().StringVar((*string)(&f.Kind), "kind", "", "one credential kind (access_key: the OAuth2 access keys)")
	cmd.Flags().BoolVar(&f.IncludeRevoked, "include-revoked", false, "list revoked credentials too")
	return cmd
}

var errNeedOwner = core.E(core.KindInvalidInput, "give --org or --principal")

func newAdminCredentialGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show a credential (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			return rt.svc.GetCredential(cmd.Context(), core.Operator{}, args[0])
		})}
}

// withRuntimeArgs is withRuntime for commands taking arguments.
func withRuntimeArgs(g *globalFlags, fn func(cmd *cobra.Command, rt *runtime, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) { return fn(cmd, rt, args) })(cmd, args)
	}
}
