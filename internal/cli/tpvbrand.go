package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
)

// newTPVBrandCmd is the administrator's side of TPV: brands and their
// products, on the database directly like `authgate admin`, through the
// same operations as /admin/tpv (tpv.Admin). The brand's own commands
// (`tpv product`, `tpv login`, ...) are clients of the TPV API.
func newTPVBrandCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "brand", Short: "TPV brands, their API credentials and products (on the database)"}
	product := &cobra.Command{Use: "product", Short: "A brand's products: the program codes of its organisation"}
	product.AddCommand(newTPVBrandProductCreateCmd(g), newTPVBrandProductListCmd(g), newTPVBrandProductGetCmd(g), newTPVBrandProductDeleteCmd(g))
	cmd.AddCommand(newTPVBrandCreateCmd(g), newTPVBrandListCmd(g), newTPVBrandGetCmd(g), newTPVBrandDeleteCmd(g), product)
	return cmd
}

func tpvOps(rt *runtime) (*tpv.Admin, core.Gate) {
	return tpv.NewAdmin(rt.svc), core.Operator{}
}

func newTPVBrandCreateCmd(g *globalFlags) *cobra.Command {
	var orgID, name string
	var products []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a brand with an application token and secret (printed once)",
		Long: `Create a brand (an application principal) and its TPV API credentials. Without --org
a new organisation named after the brand is created. --product CODE=NAME (repeatable)
registers program codes the brand's TPV submissions may use. The application secret
is printed once and stored only sealed.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ctx := cmd.Context()
			type product struct{ code, name string }
			var ps []product
			for _, p := range products {
				code, pname, ok := strings.Cut(p, "=")
				if !ok || !tpv.ValidProgramCode(code) || pname == "" {
					return nil, usageError(fmt.Errorf("--product %q: want CODE=NAME with a code of letters, digits, '-' or '_'", p))
				}
				ps = append(ps, product{code, pname})
			}
			ops, who := tpvOps(rt)
			b, err := ops.CreateBrand(ctx, who, orgID, name)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if _, err := ops.AddProduct(ctx, who, b.BrandID, p.code, p.name); err != nil {
					return nil, err
				}
			}
			return b, nil
		}),
	}
	create.Flags().StringVar(&orgID, "org", "", "organisation id (default: a new organisation named after the brand)")
	create.Flags().StringVar(&name, "name", "", "brand name")
	create.Flags().StringArrayVar(&products, "product", nil, "program code to register, CODE=NAME (repeatable)")
	_ = create.MarkFlagRequired("name")
	return create
}

func newTPVBrandListCmd(g *globalFlags) *cobra.Command {
	return orgListCmd(g, "List the brands (of one organisation with --org)",
		func(ctx context.Context, rt *runtime, orgID string, page core.Page) ([]tpv.Brand, int, error) {
			ops, who := tpvOps(rt)
			return ops.ListBrands(ctx, who, orgID, page)
		})
}

func newTPVBrandGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "get BRAND_ID", Short: "Show a brand (never its secret)", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := tpvOps(rt)
			return ops.GetBrand(cmd.Context(), who, args[0])
		})}
}

func newTPVBrandDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "delete BRAND_ID", Short: "Delete a brand: revoke its application token and auth tokens, disable it",
		Long: `Delete a brand for good: its application token is revoked (the login refuses it), its
principal is disabled and every auth_token is revoked, so no TPV call authenticates as it
again. The records stay for the audit log; the brand is then answered as not found. The
organisation's products stay (they are shared by its brands).`,
		Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := tpvOps(rt)
			return ops.DeleteBrand(cmd.Context(), who, args[0])
		})}
}

// brandFlag is the --brand owner flag of the product commands.
func brandFlag(c *cobra.Command, id *string) *cobra.Command {
	c.Flags().StringVar(id, "brand", "", "brand id")
	_ = c.MarkFlagRequired("brand")
	return c
}

func newTPVBrandProductCreateCmd(g *globalFlags) *cobra.Command {
	var brandID, code, name string
	cmd := brandFlag(&cobra.Command{Use: "create", Aliases: []string{"add"}, Short: "Register a program code for a brand's organisation", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ops, who := tpvOps(rt)
			return ops.AddProduct(cmd.Context(), who, brandID, code, name)
		})}, &brandID)
	cmd.Flags().StringVar(&code, "code", "", "program code (1 to 32 letters, digits, '-' or '_')")
	cmd.Flags().StringVar(&name, "name", "", "product name")
	_ = cmd.MarkFlagRequired("code")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTPVBrandProductListCmd(g *globalFlags) *cobra.Command {
	var brandID string
	return brandFlag(&cobra.Command{Use: "list", Short: "List a brand's products, newest first", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			ops, who := tpvOps(rt)
			items, total, err := ops.ListProducts(cmd.Context(), who, brandID, core.Page{Limit: listLimit})
			return listed(items, total), err
		})}, &brandID)
}

func newTPVBrandProductGetCmd(g *globalFlags) *cobra.Command {
	var brandID string
	return brandFlag(&cobra.Command{Use: "get CODE", Short: "Show one product of a brand", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := tpvOps(rt)
			return ops.GetProduct(cmd.Context(), who, brandID, args[0])
		})}, &brandID)
}

func newTPVBrandProductDeleteCmd(g *globalFlags) *cobra.Command {
	var brandID string
	return brandFlag(&cobra.Command{Use: "delete CODE", Short: "Delete a product: submissions naming its program code are refused", Args: cobra.ExactArgs(1),
		RunE: withRuntimeArgs(g, func(cmd *cobra.Command, rt *runtime, args []string) (any, error) {
			ops, who := tpvOps(rt)
			return ops.DeleteProduct(cmd.Context(), who, brandID, args[0])
		})}, &brandID)
}
