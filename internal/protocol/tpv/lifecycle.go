package tpv

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// The lifecycle of TPV's brands and their products is one set of
// operations (Admin) that the admin API's routes (AdminRoutes) and the
// command line (authgate tpv brand) both call, each authorizing the asker
// with the privilege table: reads reach an owner's or user's own
// organisation, changes are an administrator's. A brand manages its own
// products through the TPV API (GET/POST /api/v1/products) as before.
//
// Deleting a brand retires it: its application token is revoked (the
// login refuses it), its principal disabled and every auth_token revoked
// (signed and unsigned calls are refused), the rows kept for the audit
// trail; a deleted brand is answered 404. Products are the program codes
// of the brand's organisation (shared by its brands, as the TPV API scopes
// them) and stay when a brand is deleted. Deleting a product makes
// submissions naming its program code fail as for any unknown code; the
// sales records that named it keep it.

// Admin is the lifecycle of TPV's objects.
type Admin struct{ svc core.Services }

// NewAdmin builds the operations on svc.
func NewAdmin(svc core.Services) *Admin { return &Admin{svc: svc} }

// Brand is a brand as the admin API and the CLI show it (never its secret).
type Brand struct {
	BrandID          string    `json:"brand_id"`
	OrgID            string    `json:"org_id"`
	Name             string    `json:"name"`
	ApplicationToken string    `json:"application_token"` // public: the login's token parameter
	Disabled         bool      `json:"disabled"`
	CreatedAt        time.Time `json:"created_at"`
}

// BrandProduct is a program code of a brand's organisation.
type BrandProduct struct {
	ProgramCode string    `json:"program_code"`
	OrgID       string    `json:"org_id"`
	Name        string    `json:"name"`
	CreatedAt   time.Time `json:"created_at"`
}

// BrandDeletion is what deleting a brand did.
type BrandDeletion struct {
	BrandID       string `json:"brand_id"`
	Deleted       bool   `json:"deleted"`
	TokensRevoked int    `json:"tokens_revoked"`
}

// ProductDeletion is what deleting a product did.
type ProductDeletion struct {
	BrandID     string `json:"brand_id"`
	ProgramCode string `json:"program_code"`
	Deleted     bool   `json:"deleted"`
}

var errNoBrand = core.E(core.KindNotFound, "no such TPV brand")

func subjectBrand(id string) string { return "tpv brand " + core.LogSafe(id, 128) }

func subjectProduct(brandID, code string) string {
	return "tpv brand " + core.LogSafe(brandID, 128) + " product " + core.LogSafe(code, maxProgramCode)
}

// brand finds a live brand: an application principal with an active
// application token (a TAAP client's principal is not a brand).
func (a *Admin) brand(ctx context.Context, brandID string) (core.Principal, core.Credential, error) {
	if err := core.CheckObjectID(brandID, "TPV brand"); err != nil {
		return core.Principal{}, core.Credential{}, err
	}
	p, err := a.svc.Store.GetPrincipal(ctx, brandID)
	if core.KindOf(err) == core.KindNotFound || err == nil && p.Kind != core.PrincipalApplication {
		return core.Principal{}, core.Credential{}, errNoBrand
	}
	if err != nil {
		return core.Principal{}, core.Credential{}, err
	}
	creds, _, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{PrincipalID: p.ID, Kind: core.CredAppToken}, core.Page{Limit: 1})
	if err != nil {
		return core.Principal{}, core.Credential{}, err
	}
	if len(creds) == 0 {
		return core.Principal{}, core.Credential{}, errNoBrand
	}
	return p, creds[0], nil
}

// brandFor finds a live brand and checks who may perform action on it
// (products: on its organisation's products, not on the brand itself).
// A brand the caller may not see is not found either (core.Lookup).
func (a *Admin) brandFor(ctx context.Context, who core.Gate, action core.Action, brandID, subject string, products bool) (core.Principal, core.Credential, error) {
	var p core.Principal
	var c core.Credential
	err := core.Lookup(ctx, who, action, subject, errNoBrand, func(ctx context.Context) (core.Target, error) {
		var err error
		p, c, err = a.brand(ctx, brandID)
		if products {
			return core.Target{OrgID: p.OrgID}, err
		}
		return core.Target{OrgID: p.OrgID, PrincipalID: p.ID}, err
	})
	if err != nil {
		return core.Principal{}, core.Credential{}, err
	}
	return p, c, nil
}

func brandView(p core.Principal, c core.Credential) Brand {
	return Brand{BrandID: p.ID, OrgID: p.OrgID, Name: p.Name, ApplicationToken: c.Lookup, Disabled: p.Disabled, CreatedAt: p.CreatedAt.UTC()}
}

// CreateBrand creates a brand with its credentials (CreateBrand); the
// secret is in the answer only.
func (a *Admin) CreateBrand(ctx context.Context, who core.Gate, orgID, name string) (BrandCredentials, error) {
	if err := who.Authorize(ctx, core.ActTPVBrandsCreate, core.Target{OrgID: orgID}, "tpv brand "+core.LogSafe(name, 128)); err != nil {
		return BrandCredentials{}, err
	}
	return CreateBrand(ctx, a.svc, orgID, name)
}

// ListBrands lists the live brands of orgID ("": every organisation for
// an administrator, the asker's own for anyone else), oldest first.
func (a *Admin) ListBrands(ctx context.Context, who core.Gate, orgID string, page core.Page) ([]Brand, int, error) {
	org, err := core.ListOrg(ctx, who, core.ActTPVBrandsRead, orgID, "tpv brands")
	if err != nil {
		return nil, 0, err
	}
	creds, total, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{OrgID: org, Kind: core.CredAppToken}, page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Brand, 0, len(creds))
	for _, c := range creds {
		p, err := a.svc.Store.GetPrincipal(ctx, c.PrincipalID)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, brandView(p, c))
	}
	return out, total, nil
}

// GetBrand shows one live brand.
func (a *Admin) GetBrand(ctx context.Context, who core.Gate, brandID string) (Brand, error) {
	p, c, err := a.brandFor(ctx, who, core.ActTPVBrandsRead, brandID, subjectBrand(brandID), false)
	if err != nil {
		return Brand{}, err
	}
	return brandView(p, c), nil
}

// DeleteBrand retires a brand: its application tokens first (no new
// login), then its principal disabled and every auth_token revoked.
func (a *Admin) DeleteBrand(ctx context.Context, who core.Gate, brandID string) (BrandDeletion, error) {
	p, _, err := a.brandFor(ctx, who, core.ActTPVBrandsDelete, brandID, subjectBrand(brandID), false)
	if err != nil {
		return BrandDeletion{}, err
	}
	now := a.svc.Clock.Now()
	for {
		creds, _, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{PrincipalID: p.ID, Kind: core.CredAppToken}, core.Page{Limit: 100})
		if err != nil {
			return BrandDeletion{}, err
		}
		if len(creds) == 0 {
			break
		}
		for _, c := range creds {
			if err := a.svc.Store.RevokeCredential(ctx, c.ID, now); err != nil {
				return BrandDeletion{}, err
			}
		}
	}
	if err := a.svc.Store.SetPrincipalDisabled(ctx, p.ID, true); err != nil {
		return BrandDeletion{}, err
	}
	n, err := a.svc.Tokens.RevokePrincipal(ctx, p.ID)
	if err != nil {
		return BrandDeletion{}, err
	}
	return BrandDeletion{BrandID: p.ID, Deleted: true, TokensRevoked: n}, a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditDelete, Protocol: protocol,
		OrgID: p.OrgID, PrincipalID: p.ID, Subject: subjectBrand(p.ID), Reason: "brand " + p.Name + " deleted by " + core.ActorName(who.Actor()) + "; " + strconv.Itoa(n) + " auth tokens revoked"}))
}

// productOf checks code and the brand and authorizes action on the
// brand's organisation's product.
func (a *Admin) productOf(ctx context.Context, who core.Gate, action core.Action, brandID, code string) (core.Principal, error) {
	subject := subjectProduct(brandID, code)
	// Refused before the code's form is checked, as brandFor would.
	if err := core.RefuseUngranted(ctx, who, action, subject); err != nil {
		return core.Principal{}, err
	}
	if !ValidProgramCode(code) {
		return core.Principal{}, core.E(core.KindInvalidInput, "program_code must be 1 to "+strconv.Itoa(maxProgramCode)+" letters, digits, '-' or '_'.")
	}
	p, _, err := a.brandFor(ctx, who, action, brandID, subject, true)
	return p, err
}

func productView(orgID string, d core.Document) (BrandProduct, error) {
	var p storedProduct
	if err := json.Unmarshal(d.Data, &p); err != nil {
		return BrandProduct{}, core.Wrap(core.KindInternal, "", err)
	}
	return BrandProduct{ProgramCode: p.ProgramCode, OrgID: orgID, Name: p.Name, CreatedAt: p.CreatedAt.UTC()}, nil
}

// AddProduct registers a program code for the brand's organisation; the
// TPV API's rules hold (a well-formed code, unique in the organisation).
func (a *Admin) AddProduct(ctx context.Context, who core.Gate, brandID, code, name string) (BrandProduct, error) {
	p, err := a.productOf(ctx, who, core.ActTPVProductsCreate, brandID, code)
	if err != nil {
		return BrandProduct{}, err
	}
	sp, err := putProduct(ctx, a.svc.Store, p.OrgID, code, name, a.svc.Clock.Now())
	if err != nil {
		return BrandProduct{}, err
	}
	if err := a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: p.OrgID, PrincipalID: p.ID,
		Subject: "product " + code, Reason: "product added by " + core.ActorName(who.Actor())})); err != nil {
		return BrandProduct{}, err
	}
	return BrandProduct{ProgramCode: sp.ProgramCode, OrgID: p.OrgID, Name: sp.Name, CreatedAt: sp.CreatedAt.UTC()}, nil
}

// ListProducts lists the products of a live brand's organisation, newest first.
func (a *Admin) ListProducts(ctx context.Context, who core.Gate, brandID string, page core.Page) ([]BrandProduct, int, error) {
	p, _, err := a.brandFor(ctx, who, core.ActTPVProductsRead, brandID, subjectBrand(brandID), true)
	if err != nil {
		return nil, 0, err
	}
	docs, total, err := a.svc.Store.ListDocuments(ctx, CollectionProducts, p.OrgID, page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]BrandProduct, 0, len(docs))
	for _, d := range docs {
		bp, err := productView(p.OrgID, d)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, bp)
	}
	return out, total, nil
}

var errNoProduct = core.E(core.KindNotFound, "the brand has no product with this program_code")

// GetProduct shows one product of a live brand's organisation.
func (a *Admin) GetProduct(ctx context.Context, who core.Gate, brandID, code string) (BrandProduct, error) {
	p, err := a.productOf(ctx, who, core.ActTPVProductsRead, brandID, code)
	if err != nil {
		return BrandProduct{}, err
	}
	d, err := a.svc.Store.GetDocument(ctx, CollectionProducts, productID(p.OrgID, code))
	if core.KindOf(err) == core.KindNotFound {
		return BrandProduct{}, errNoProduct
	}
	if err != nil {
		return BrandProduct{}, err
	}
	return productView(p.OrgID, d)
}

// DeleteProduct deletes a product: submissions naming its program code
// are refused from then on, as for any code the brand does not have.
func (a *Admin) DeleteProduct(ctx context.Context, who core.Gate, brandID, code string) (ProductDeletion, error) {
	p, err := a.productOf(ctx, who, core.ActTPVProductsDelete, brandID, code)
	if err != nil {
		return ProductDeletion{}, err
	}
	if err := a.svc.Store.DeleteDocument(ctx, CollectionProducts, productID(p.OrgID, code)); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return ProductDeletion{}, errNoProduct
		}
		return ProductDeletion{}, err
	}
	return ProductDeletion{BrandID: p.ID, ProgramCode: code, Deleted: true}, a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditDelete, Protocol: protocol,
		OrgID: p.OrgID, PrincipalID: p.ID, Subject: "product " + code, Reason: "product deleted by " + core.ActorName(who.Actor())}))
}
