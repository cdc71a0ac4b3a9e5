package tpv

import (
	"context"

	"github.com/authgate/authgate/internal/core"
)

// BrandCredentials is what a new brand receives: its application token
// (public) and application secret (shown once, stored sealed).
type BrandCredentials struct {
	OrgID            string `json:"org_id"`
	BrandID          string `json:"brand_id"`
	Brand            string `json:"brand"`
	ApplicationToken string `json:"application_token"`
	AppSecret        string `json:"application_secret"`
}

// CreateBrand creates a brand (an application principal) in orgID, or in a
// new organisation named after it when orgID is "", with a fresh
// application token and secret. The secret is returned once; core seals
// it (AES-256-GCM) because the login HMAC must be recomputed with it.
func CreateBrand(ctx context.Context, svc core.Services, orgID, name string) (BrandCredentials, error) {
	if orgID == "" {
		o, err := svc.CreateOrganisation(ctx, name)
		if err != nil {
			return BrandCredentials{}, err
		}
		orgID = o.ID
	} else if _, err := svc.Store.GetOrganisation(ctx, orgID); err != nil {
		return BrandCredentials{}, err
	}
	p, err := svc.CreatePrincipal(ctx, orgID, core.PrincipalApplication, name)
	if err != nil {
		return BrandCredentials{}, err
	}
	c, secret, err := svc.Credentials.Create(ctx, core.CredentialSpec{
		OrgID: orgID, PrincipalID: p.ID, Kind: core.CredAppToken, Name: "TPV API access for " + name,
	})
	if err != nil {
		return BrandCredentials{}, err
	}
	if err := svc.Audit.Record(ctx, core.AuditEvent{
		Action: core.AuditCreate, Protocol: protocol, OrgID: orgID, PrincipalID: p.ID,
		Subject: c.Lookup, Reason: "brand " + name + " with application token",
	}); err != nil {
		return BrandCredentials{}, err
	}
	return BrandCredentials{OrgID: orgID, BrandID: p.ID, Brand: name, ApplicationToken: c.Lookup, AppSecret: secret}, nil
}

// AddProduct registers a program code for a brand's organisation (what
// POST /api/v1/products does, for administrators and set-up scripts).
func AddProduct(ctx context.Context, svc core.Services, orgID, code, name string) error {
	if _, err := putProduct(ctx, svc.Store, orgID, code, name, svc.Clock.Now()); err != nil {
		return err
	}
	return svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: orgID, Subject: "product " + code})
}
