package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
)

func newMigrateCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := openRuntime(cmd.Context(), g, cmd) // opening migrates
			if err != nil {
				return err
			}
			defer rt.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied (%s)\n", rt.svc.Store.Dialect())
			return nil
		},
	}
}

// newAdminCmd groups direct administration on the database (no server needed).
func newAdminCmd(g *globalFlags) *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Administer organisations, principals and credentials directly in the database",
	}
	admin.AddCommand(newAdminOrgCmd(g), newAdminPrincipalCmd(g), newAdminCredentialCmd(g), newAdminAuditCmd(g))
	return admin
}

// withRuntime runs fn with the store open and prints its result as JSON.
func withRuntime(g *globalFlags, fn func(cmd *cobra.Command, rt *runtime) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		rt, err := openRuntime(cmd.Context(), g, cmd)
		if err != nil {
			return err
		}
		defer rt.Close()
		out, err := fn(cmd, rt)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
}

func newAdminOrgCmd(g *globalFlags) *cobra.Command {
	org := &cobra.Command{Use: "org", Short: "Organisations"}
	var name string
	create := &cobra.Command{
		Use: "create", Short: "Create an organisation", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			o, err := rt.svc.CreateOrganisation(cmd.Context(), name)
			if err != nil {
				return nil, err
			}
			return map[string]any{"id": o.ID, "name": o.Name}, rt.svc.Audit.Record(cmd.Context(), core.AuditEvent{Action: core.AuditCreate, Protocol: "admin", OrgID: o.ID, Subject: "organisation " + o.Name})
		}),
	}
	create.Flags().StringVar(&name, "name", "", "organisation name")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list", Short: "List organisations", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			orgs, total, err := rt.svc.Store.ListOrganisations(cmd.Context(), core.Page{Limit: 1000})
			if err != nil {
				return nil, err
			}
			items := make([]map[string]any, 0, len(orgs))
			for _, o := range orgs {
				items = append(items, map[string]any{"id": o.ID, "name": o.Name, "created_at": o.CreatedAt})
			}
			return map[string]any{"total": total, "items": items}, nil
		}),
	}
	org.AddCommand(create, list)
	return org
}

func newAdminPrincipalCmd(g *globalFlags) *cobra.Command {
	pr := &cobra.Command{Use: "principal", Short: "Principals (admin, owner, user, device, application, partner)"}
	var orgID, kind, name string
	create := &cobra.Command{
		Use: "create", Short: "Create a principal", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			p, err := rt.svc.CreatePrincipal(cmd.Context(), orgID, core.PrincipalKind(kind), name)
			if err != nil {
				return nil, err
			}
			return map[string]any{"id": p.ID, "org_id": p.OrgID, "kind": p.Kind, "name": p.Name},
				rt.svc.Audit.Record(cmd.Context(), core.AuditEvent{Action: core.AuditCreate, Protocol: "admin", OrgID: p.OrgID, PrincipalID: p.ID, Subject: string(p.Kind) + " " + p.Name})
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id")
	create.Flags().StringVar(&kind, "kind", "user", "admin, owner, user, device, application or partner")
	create.Flags().StringVar(&name, "name", "", "name (login, device id, brand)")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("name")
	var listOrg string
	list := &cobra.Command{
		Use: "list", Short: "List principals of an organisation", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ps, total, err := rt.svc.Store.ListPrincipals(cmd.Context(), listOrg, "", core.Page{Limit: 1000})
			if err != nil {
				return nil, err
			}
			items := make([]map[string]any, 0, len(ps))
			for _, p := range ps {
				items = append(items, map[string]any{"id": p.ID, "kind": p.Kind, "name": p.Name, "disabled": p.Disabled})
			}
			return map[string]any{"total": total, "items": items}, nil
		}),
	}
	list.Flags().StringVar(&listOrg, "org", "", "organisation id")
	_ = list.MarkFlagRequired("org")
	pr.AddCommand(create, list)
	return pr
}

func newAdminCredentialCmd(g *globalFlags) *cobra.Command {
	cr := &cobra.Command{Use: "credential", Short: "Credentials of principals"}
	var principalID, kind, lookup, name, secretFile, publicFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a credential and print its secret once",
		Long: `Create a credential for a principal. Kinds: access_key, client_secret, app_token,
signing_key, password, api_key (secret generated unless --secret-file), public_key and
certificate (--public-file). The secret is printed once and stored only hashed or sealed.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ctx := cmd.Context()
			p, err := rt.svc.Store.GetPrincipal(ctx, principalID)
			if err != nil {
				return nil, err
			}
			spec := core.CredentialSpec{OrgID: p.OrgID, PrincipalID: p.ID, Kind: core.CredentialKind(kind), Lookup: lookup, Name: name}
			if secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return nil, err
				}
				spec.Secret = string(trimNewline(b))
			}
			if publicFile != "" {
				b, err := os.ReadFile(publicFile)
				if err != nil {
					return nil, err
				}
				spec.Public = b
			}
			c, secret, err := rt.svc.Credentials.Create(ctx, spec)
			if err != nil {
				return nil, err
			}
			out := map[string]any{"id": c.ID, "principal_id": c.PrincipalID, "kind": c.Kind, "lookup": c.Lookup}
			if secret != "" && secretFile == "" {
				out["secret"] = secret
			}
			return out, rt.svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: "admin", OrgID: c.OrgID, PrincipalID: c.PrincipalID, Subject: string(c.Kind) + " " + c.Lookup})
		}),
	}
	create.Flags().StringVar(&principalID, "principal", "", "principal id")
	create.Flags().StringVar(&kind, "kind", "access_key", "credential kind")
	create.Flags().StringVar(&lookup, "lookup", "", "public identifier (generated when empty)")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&secretFile, "secret-file", "", "read the secret from this file instead of generating one")
	create.Flags().StringVar(&publicFile, "public-file", "", "public key or certificate file (PEM or JWK)")
	_ = create.MarkFlagRequired("principal")
	var revokeID string
	revoke := &cobra.Command{
		Use: "revoke", Short: "Revoke a credential and every token issued to its principal", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ctx := cmd.Context()
			c, err := rt.svc.Store.GetCredential(ctx, revokeID)
			if err != nil {
				return nil, err
			}
			now := rt.svc.Clock.Now()
			if err := rt.svc.Store.RevokeCredential(ctx, c.ID, now); err != nil {
				return nil, err
			}
			n, err := rt.svc.Store.RevokePrincipalTokens(ctx, c.PrincipalID, now)
			if err != nil {
				return nil, err
			}
			return map[string]any{"revoked": c.ID, "tokens_revoked": n},
				rt.svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditRevoke, Protocol: "admin", OrgID: c.OrgID, PrincipalID: c.PrincipalID, Subject: string(c.Kind) + " " + c.Lookup})
		}),
	}
	revoke.Flags().StringVar(&revokeID, "id", "", "credential id")
	_ = revoke.MarkFlagRequired("id")
	cr.AddCommand(create, revoke)
	return cr
}

func newAdminAuditCmd(g *globalFlags) *cobra.Command {
	var limit int
	var action, protocol string
	cmd := &cobra.Command{
		Use: "audit", Short: "Show the newest audit log entries", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return rt.svc.Audit.List(cmd.Context(), core.AuditFilter{Limit: limit, Action: action, Protocol: protocol})
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "number of entries")
	cmd.Flags().StringVar(&action, "action", "", "only this action (issue, renew, revoke, auth_failure, ...)")
	cmd.Flags().StringVar(&protocol, "protocol", "", "only this protocol")
	return cmd
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
