package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
)

// newTAAPCmd is the administrator's side of TAAP: clients, their PoP keys
// and SIM records, on the database directly like `authgate admin`,
// through the same operations as /admin/taap (taap.Admin).
func newTAAPCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "taap", Short: "T-Mobile TAAP: clients, their keys and SIM records (on the database)"}
	client := &cobra.Command{Use: "client", Short: "TAAP clients"}
	client.AddCommand(newTAAPClientCreateCmd(g), newTAAPClientListCmd(g), newTAAPClientGetCmd(g), newTAAPClientDeleteCmd(g), newTAAPKeyCmd(g))
	sim := &cobra.Command{Use: "sim", Short: "SIM records of the connectivity demo resource"}
	sim.AddCommand(newTAAPSIMCreateCmd(g), newTAAPSIMListCmd(g), newTAAPSIMGetCmd(g), newTAAPSIMDeleteCmd(g))
	cmd.AddCommand(client, sim)
	return cmd
}

func taapOps(rt *runtime) (*taap.Admin, core.Gate) {
	return taap.NewAdmin(rt.svc), core.Operator{}
}

func newTAAPClientCreateCmd(g *globalFlags) *cobra.Command {
	var orgID, name, scope string
	var keyFiles []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a TAAP client: client id and secret (printed once) plus RSA public keys",
		Long: `Register a TAAP client (an application principal) with a client secret for Basic
authentication at POST /oauth2/v6/tokens and one or more RSA public keys (>= 2048 bits;
PEM SPKI or PKCS#1, or a JWK) that verify its PoP tokens. Without --org a new
organisation named after the client is created. The secret is stored only as a keyed
hash and cannot be shown again.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			spec := taap.ClientSpec{OrgID: orgID, Name: name, Scope: scope}
			for _, f := range keyFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, err
				}
				spec.PublicKeys = append(spec.PublicKeys, b)
			}
			ops, who := taapOps(rt)
			return ops.CreateClient(cmd.Context(), who, spec)
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id (default: a new organisation named after the client)")
	create.Flags().StringVar(&name, "name", "", "client name")
	create.Flags().StringVar(&scope, "scope", "", "scope granted to the client's access tokens")
	create.Flags().StringArrayVar(&keyFiles, "public-key", nil, "public key file, PEM or JWK (repeatable)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("public-key")
	return create
}

func newTAAPClientListCmd(g *globalFlags) *cobra.Command {
	return orgListCmd(g, "List the TAAP clients (of one organisation with --org)",
		func(ctx context.Context, rt *runtime, orgID string, page core.Page) ([]taap.Client, int, error) {
			ops, who := taapOps(rt)
			return ops.ListClients(ctx, who, orgID, page)
		})
}

func newTAAPClientGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get CLIENT_ID", Short: "Show a TAAP client (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.GetClient(cmd.Context(), who, args[0])
		})}
}

func newTAAPClientDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "delete CLIENT_ID", Short: "Delete a TAAP client: revoke its secret, keys and tokens, disable it",
		Long: `Delete a TAAP client for good: its client secret and every public key are revoked,
its principal is disabled and every token issued to it is revoked, so neither the token
endpoint nor a PoP-protected resource accepts it again. The records stay for the audit
log (a client id is never reused); the client is then answered as not found.`,
		Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.DeleteClient(cmd.Context(), who, args[0])
		})}
}

func newTAAPKeyCmd(g *globalFlags) *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "A TAAP client's PoP public keys (rotation: add the new key, then revoke the old)"}
	var clientID string
	owner := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&clientID, "client", "", "client id")
		_ = c.MarkFlagRequired("client")
		return c
	}
	var keyFile string
	create := owner(&cobra.Command{Use: "create", Aliases: []string{"add"}, Short: "Register another public key for a client", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return nil, err
			}
			ops, who := taapOps(rt)
			return ops.AddKey(cmd.Context(), who, clientID, b)
		})})
	create.Flags().StringVar(&keyFile, "public-key", "", "public key file, PEM or JWK")
	_ = create.MarkFlagRequired("public-key")
	var includeRevoked bool
	list := owner(&cobra.Command{Use: "list", Short: "List a client's keys", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ops, who := taapOps(rt)
			items, total, err := ops.ListKeys(cmd.Context(), who, clientID, includeRevoked, core.Page{Limit: listLimit})
			return listed(items, total), err
		})})
	list.Flags().BoolVar(&includeRevoked, "include-revoked", false, "list revoked keys too")
	get := owner(&cobra.Command{Use: "get KID", Short: "Show one key of a client (KID: its RFC 7638 thumbprint; one starting with \"-\" goes after --)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.GetKey(cmd.Context(), who, clientID, args[0])
		})})
	revoke := owner(&cobra.Command{Use: "revoke KID", Short: "Revoke one key: PoP tokens it signs are refused (a KID starting with \"-\" goes after --)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.RevokeKey(cmd.Context(), who, clientID, args[0])
		})})
	key.AddCommand(create, list, get, revoke)
	return key
}

func newTAAPSIMCreateCmd(g *globalFlags) *cobra.Command {
	var s taap.SIM
	var orgID string
	create := &cobra.Command{
		Use: "create", Aliases: []string{"add"}, Short: "Add a SIM record (ICCID: 19-20 digits, 89..., Luhn check digit)", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ops, who := taapOps(rt)
			return ops.AddSIM(cmd.Context(), who, orgID, s)
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id of the clients that may read it")
	create.Flags().StringVar(&s.ICCID, "iccid", "", "ICCID")
	create.Flags().StringVar(&s.IMSI, "imsi", "", "IMSI")
	create.Flags().StringVar(&s.MSISDN, "msisdn", "", "MSISDN")
	create.Flags().StringVar(&s.Status, "status", "active", "active, inactive, suspended or deactivated")
	create.Flags().StringVar(&s.Label, "label", "", "free label")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("iccid")
	return create
}

func newTAAPSIMListCmd(g *globalFlags) *cobra.Command {
	return orgListCmd(g, "List the SIM records (of one organisation with --org), newest first",
		func(ctx context.Context, rt *runtime, orgID string, page core.Page) ([]taap.SIMRecord, int, error) {
			ops, who := taapOps(rt)
			return ops.ListSIMs(ctx, who, orgID, page)
		})
}

func newTAAPSIMGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get ICCID", Short: "Show a SIM record", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.GetSIM(cmd.Context(), who, args[0])
		})}
}

func newTAAPSIMDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "delete ICCID", Short: "Delete a SIM record (the connectivity resource then answers 404 for it)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := taapOps(rt)
			return ops.DeleteSIM(cmd.Context(), who, args[0])
		})}
}
