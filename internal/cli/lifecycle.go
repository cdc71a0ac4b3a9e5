package cli

import (
	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
)

// The get, list and disable verbs of the core's own objects. The object's
// own id is the positional argument of every verb that names one object
// (as in `route get NAME`, `ca revoke SERIAL`, `subscription unsubscribe
// ID`); the objects it belongs to are flags (--org, --principal).

// listLimit is the most one list command prints (with the total).
const listLimit = 1000

func orgView(o core.Organisation) map[string]any {
	return map[string]any{"id": o.ID, "name": o.Name, "created_at": o.CreatedAt}
}

func principalView(p core.Principal) map[string]any {
	return map[string]any{"id": p.ID, "org_id": p.OrgID, "kind": p.Kind, "name": p.Name, "disabled": p.Disabled, "created_at": p.CreatedAt}
}

// credentialView is what the CLI shows of a credential: never its hash or
// sealed secret.
func credentialView(c core.Credential) map[string]any {
	v := map[string]any{"id": c.ID, "org_id": c.OrgID, "principal_id": c.PrincipalID, "kind": c.Kind, "lookup": c.Lookup,
		"name": c.Name, "created_at": c.CreatedAt, "expires_at": c.ExpiresAt, "revoked_at": c.RevokedAt}
	return v
}

func newAdminOrgGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show an organisation", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			o, err := rt.svc.Store.GetOrganisation(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return orgView(o), nil
		})}
}

func newAdminPrincipalGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show a principal", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			p, err := rt.svc.Store.GetPrincipal(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return principalView(p), nil
		})}
}

func newAdminPrincipalDisableCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "disable ID", Short: "Disable a principal and revoke every token issued to it", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ctx := cmd.Context()
			p, err := rt.svc.Store.GetPrincipal(ctx, args[0])
			if err != nil {
				return nil, err
			}
			if err := rt.svc.Store.SetPrincipalDisabled(ctx, p.ID, true); err != nil {
				return nil, err
			}
			n, err := rt.svc.Store.RevokePrincipalTokens(ctx, p.ID, rt.svc.Clock.Now())
			if err != nil {
				return nil, err
			}
			return map[string]any{"disabled": p.ID, "tokens_revoked": n},
				rt.svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditRevoke, Protocol: "admin", OrgID: p.OrgID, PrincipalID: p.ID, Subject: string(p.Kind) + " " + p.Name, Reason: "principal disabled"})
		})}
}

func newAdminCredentialListCmd(g *globalFlags) *cobra.Command {
	var f core.CredentialFilter
	cmd := &cobra.Command{Use: "list", Short: "List the credentials of a principal or an organisation (never their secrets)", Args: cobra.NoArgs,
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, _ []string) (any, error) {
			if f.OrgID == "" && f.PrincipalID == "" {
				return nil, usageError(errNeedOwner)
			}
			cs, total, err := rt.svc.Store.ListCredentials(cmd.Context(), f, core.Page{Limit: listLimit})
			if err != nil {
				return nil, err
			}
			items := make([]map[string]any, 0, len(cs))
			for _, c := range cs {
				items = append(items, credentialView(c))
			}
			return map[string]any{"total": total, "items": items}, nil
		})}
	cmd.Flags().StringVar(&f.OrgID, "org", "", "organisation id")
	cmd.Flags().StringVar(&f.PrincipalID, "principal", "", "principal id")
	cmd.Flags().BoolVar(&f.IncludeRevoked, "include-revoked", false, "list revoked credentials too")
	return cmd
}

var errNeedOwner = core.E(core.KindInvalidInput, "give --org or --principal")

func newAdminCredentialGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ID", Short: "Show a credential (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			c, err := rt.svc.Store.GetCredential(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return credentialView(c), nil
		})}
}

// withRuntimeArgs is withRuntime for commands taking arguments.
func withRuntimeArgs(g *globalFlags, fn func(cmd *cobra.Command, rt *runtime, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) { return fn(cmd, rt, args) })(cmd, args)
	}
}
