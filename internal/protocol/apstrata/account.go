package apstrata

import (
	"context"

	"github.com/authgate/authgate/internal/core"
)

// Account is a created account: its organisation and the owner's authKey
// and secret (shown once).
type Account struct {
	OrgID   string
	AuthKey string
	Secret  string
}

// CreateAccount creates an organisation with an owner and the owner's
// signing credential (authKey + secret, secret sealed at rest).
func CreateAccount(ctx context.Context, svc core.Services, name string) (Account, error) {
	org, err := svc.CreateOrganisation(ctx, name)
	if err != nil {
		return Account{}, err
	}
	p, err := svc.CreatePrincipal(ctx, org.ID, core.PrincipalOwner, name)
	if err != nil {
		return Account{}, err
	}
	// The authKey appears in URLs and signatures: keep it to the unreserved alphabet.
	c, secret, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredSigningKey, Lookup: core.NewID(), Name: "apstrata account key"})
	if err != nil {
		return Account{}, err
	}
	if err := svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: org.ID, PrincipalID: p.ID, Subject: "account " + c.Lookup}); err != nil {
		return Account{}, err
	}
	return Account{OrgID: org.ID, AuthKey: c.Lookup, Secret: secret}, nil
}

// CreateMember creates a user (or, with asDevice, a device) of the account
// with the given id and password (sealed at rest: the protocol's signatures
// are keyed with its MD5). An empty password generates one, returned once.
func CreateMember(ctx context.Context, svc core.Services, authKey, id, password string, asDevice bool) (string, error) {
	if id == "" || len(id) > 200 {
		return "", core.E(core.KindInvalidInput, "the user or device id must be 1 to 200 characters")
	}
	acct, err := svc.Credentials.Find(ctx, core.CredSigningKey, authKey)
	if err != nil {
		return "", err
	}
	kind := core.PrincipalUser
	if asDevice {
		kind = core.PrincipalDevice
	}
	p, err := svc.CreatePrincipal(ctx, acct.OrgID, kind, id)
	if err != nil {
		return "", err
	}
	_, pw, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: acct.OrgID, PrincipalID: p.ID, Kind: core.CredPassword, Lookup: memberLookup(authKey, id), Secret: password})
	if err != nil {
		return "", err
	}
	if err := svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: acct.OrgID, PrincipalID: p.ID, Subject: string(kind) + " " + id}); err != nil {
		return "", err
	}
	return pw, nil
}
