package core

import (
	"context"
)

// CreateOrganisation creates an organisation named name.
func (s Services) CreateOrganisation(ctx context.Context, name string) (Organisation, error) {
	if err := ValidName("organisation name", name); err != nil {
		return Organisation{}, err
	}
	o := Organisation{ID: NewID(), Name: name, CreatedAt: s.Clock.Now()}
	if err := s.Store.CreateOrganisation(ctx, o); err != nil {
		return Organisation{}, err
	}
	return o, nil
}

// CreatePrincipal creates a principal of kind named name in organisation orgID.
func (s Services) CreatePrincipal(ctx context.Context, orgID string, kind PrincipalKind, name string) (Principal, error) {
	if !kind.Valid() {
		return Principal{}, E(KindInvalidInput, "unknown principal kind "+string(kind))
	}
	if err := ValidName("principal name", name); err != nil {
		return Principal{}, err
	}
	p := Principal{ID: NewID(), OrgID: orgID, Kind: kind, Name: name, CreatedAt: s.Clock.Now()}
	if err := s.Store.CreatePrincipal(ctx, p); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// SystemOrgID is the organisation of the bootstrap admin.
const SystemOrgID = "system"

// BootstrapResult is what EnsureBootstrapAdmin created, with the secret in clear.
type BootstrapResult struct {
	Created bool
	OrgID   string
	Key     string
	Secret  string
}

// EnsureBootstrapAdmin creates the first admin principal and its access key
// when the store has no admin yet. The secret is returned once and only
// its keyed hash is stored.
func (s Services) EnsureBootstrapAdmin(ctx context.Context) (BootstrapResult, error) {
	n, err := s.Store.CountPrincipals(ctx, PrincipalAdmin)
	if err != nil {
		return BootstrapResult{}, err
	}
	if n > 0 {
		return BootstrapResult{}, nil
	}
	// A fixed organisation id makes concurrent first starts of several
	// nodes race on one primary key: exactly one of them bootstraps.
	org := Organisation{ID: SystemOrgID, Name: "system", CreatedAt: s.Clock.Now()}
	if err := s.Store.CreateOrganisation(ctx, org); err != nil {
		if KindOf(err) == KindConflict {
			return BootstrapResult{}, nil
		}
		return BootstrapResult{}, err
	}
	p, err := s.CreatePrincipal(ctx, org.ID, PrincipalAdmin, "bootstrap-admin")
	if err != nil {
		return BootstrapResult{}, err
	}
	c, secret, err := s.Credentials.Create(ctx, CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: CredAccessKey, Name: "bootstrap admin key"})
	if err != nil {
		return BootstrapResult{}, err
	}
	if err := s.Audit.Record(ctx, AuditEvent{Action: AuditCreate, Protocol: "admin", OrgID: org.ID, PrincipalID: p.ID, Subject: c.Lookup, Reason: "bootstrap admin key"}); err != nil {
		return BootstrapResult{}, err
	}
	return BootstrapResult{Created: true, OrgID: org.ID, Key: c.Lookup, Secret: secret}, nil
}
