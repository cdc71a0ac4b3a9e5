package tpv

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// Paths of the TPV routes of the admin API.
const (
	RouteAdminBrands   = "/admin/tpv/brands"
	RouteAdminBrand    = RouteAdminBrands + "/{id}"
	RouteAdminProducts = RouteAdminBrand + "/products"
	RouteAdminProduct  = RouteAdminProducts + "/{code}"
)

const adminTag = "TPV"

var _ adminapi.Group = (*Admin)(nil)

// CreateBrandRequest is the body of POST /admin/tpv/brands.
type CreateBrandRequest struct {
	OrgID string `json:"org_id"` // "": a new organisation named after the brand
	Name  string `json:"name"`
}

// CreatedBrand is the answer of POST /admin/tpv/brands: the brand and its
// application secret (shown this once).
type CreatedBrand struct {
	Brand
	Secret string `json:"secret"`
}

// CreateProductRequest is the body of POST /admin/tpv/brands/{id}/products.
type CreateProductRequest struct {
	ProgramCode string `json:"program_code"`
	Name        string `json:"name"`
}

// AdminRoutes are the admin API's routes of the TPV objects: each calls
// the operation the CLI calls, with the request as the gate.
func (a *Admin) AdminRoutes() []adminapi.Route {
	org := adminapi.Param{Name: "org", Description: "only this organisation's (a non-admin's are its own)", Type: "string"}
	id := func(req *adminapi.Request) string { return req.HTTP.PathValue("id") }
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RouteAdminBrands, Tag: adminTag, Summary: "List the TPV brands (never their secrets)",
			Action: core.ActTPVBrandsRead, Result: adminapi.List[Brand]{}, Query: append([]adminapi.Param{org}, adminapi.PageParams...),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, p, err := req.PageQuery("org")
				if err != nil {
					return nil, err
				}
				items, total, err := a.ListBrands(ctx, req, q.Get("org"), p)
				return adminapi.PagedResult(items, total, p, err)
			}},
		{Method: http.MethodPost, Path: RouteAdminBrands, Tag: adminTag, Summary: "Create a brand with its API credentials: the secret is shown once",
			Action: core.ActTPVBrandsCreate, Body: CreateBrandRequest{}, Result: CreatedBrand{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				b := req.Body.(*CreateBrandRequest)
				return a.createBrand(ctx, req, b.OrgID, b.Name)
			}},
		{Method: http.MethodGet, Path: RouteAdminBrand, Tag: adminTag, Summary: "Show a brand (never its secret)",
			Action: core.ActTPVBrandsRead, Result: Brand{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) { return a.GetBrand(ctx, req, id(req)) }},
		{Method: http.MethodDelete, Path: RouteAdminBrand, Tag: adminTag, Summary: "Delete a brand: its application token and auth tokens are revoked",
			Action: core.ActTPVBrandsDelete, Result: BrandDeletion{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) { return a.DeleteBrand(ctx, req, id(req)) }},
		{Method: http.MethodGet, Path: RouteAdminProducts, Tag: adminTag, Summary: "List the products (program codes) of a brand's organisation, newest first",
			Action: core.ActTPVProductsRead, Result: adminapi.List[BrandProduct]{}, Query: adminapi.PageParams,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				_, p, err := req.PageQuery()
				if err != nil {
					return nil, err
				}
				items, total, err := a.ListProducts(ctx, req, id(req), p)
				return adminapi.PagedResult(items, total, p, err)
			}},
		{Method: http.MethodPost, Path: RouteAdminProducts, Tag: adminTag, Summary: "Register a program code for a brand's organisation",
			Action: core.ActTPVProductsCreate, Body: CreateProductRequest{}, Result: BrandProduct{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				b := req.Body.(*CreateProductRequest)
				return a.AddProduct(ctx, req, id(req), b.ProgramCode, b.Name)
			}},
		{Method: http.MethodGet, Path: RouteAdminProduct, Tag: adminTag, Summary: "Show one product of a brand's organisation",
			Action: core.ActTPVProductsRead, Result: BrandProduct{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetProduct(ctx, req, id(req), req.HTTP.PathValue("code"))
			}},
		{Method: http.MethodDelete, Path: RouteAdminProduct, Tag: adminTag, Summary: "Delete a product: submissions naming its program code are refused",
			Action: core.ActTPVProductsDelete, Result: ProductDeletion{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.DeleteProduct(ctx, req, id(req), req.HTTP.PathValue("code"))
			}},
	}
}

// createBrand creates a brand from the admin API's body and answers it
// with its secret.
func (a *Admin) createBrand(ctx context.Context, who core.Gate, orgID, name string) (CreatedBrand, error) {
	bc, err := a.CreateBrand(ctx, who, orgID, name)
	if err != nil {
		return CreatedBrand{}, err
	}
	p, c, err := a.brand(ctx, bc.BrandID)
	if err != nil {
		return CreatedBrand{}, err
	}
	return CreatedBrand{Brand: brandView(p, c), Secret: bc.AppSecret}, nil
}
