package core

import (
	"context"
	"time"
)

// The lifecycle operations of the core's own objects (organisations,
// principals and their credentials): the admin API's routes and the CLI's
// `authgate admin ...` commands both call these, with the caller's gate
// (an adminapi request, or Operator on the command line). Reads reach the
// caller's organisation (owners and users) or every one (admins); every
// change is an administrator's. Views never carry a hash or a sealed
// secret; a generated secret is in the create answer only.

// OrganisationView is an organisation as the admin API and the CLI show it.
type OrganisationView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// PrincipalView is a principal as the admin API and the CLI show it.
type PrincipalView struct {
	ID        string        `json:"id"`
	OrgID     string        `json:"org_id"`
	Kind      PrincipalKind `json:"kind"`
	Name      string        `json:"name"`
	Disabled  bool          `json:"disabled"`
	CreatedAt time.Time     `json:"created_at"`
}

// CredentialView is a credential's metadata: never its hash or sealed secret.
type CredentialView struct {
	ID          string         `json:"id"`
	OrgID       string         `json:"org_id"`
	PrincipalID string         `json:"principal_id"`
	Kind        CredentialKind `json:"kind"`
	Lookup      string         `json:"lookup"`
	Name        string         `json:"name"`
	CreatedAt   time.Time      `json:"created_at"`
	ExpiresAt   *time.Time     `json:"expires_at"`
	RevokedAt   *time.Time     `json:"revoked_at"`
}

// CreatedCredential is the answer of a create: the credential and, when
// it was generated, its secret (shown this once, stored only hashed or
// sealed).
type CreatedCredential struct {
	CredentialView
	Secret string `json:"secret,omitempty"`
}

// PrincipalDisabled is the answer of a disable.
type PrincipalDisabled struct {
	Disabled      string `json:"disabled"` // the principal's id
	TokensRevoked int    `json:"tokens_revoked"`
}

// CredentialRevoked is the answer of a revoke.
type CredentialRevoked struct {
	Revoked       string `json:"revoked"` // the credential's id
	TokensRevoked int    `json:"tokens_revoked"`
}

// NewOrganisation is the input of CreateOrganisationAs.
type NewOrganisation struct {
	Name string `json:"name"`
}

// NewPrincipal is the input of CreatePrincipalAs.
type NewPrincipal struct {
	OrgID string        `json:"org_id"`
	Kind  PrincipalKind `json:"kind"`
	Name  string        `json:"name"`
}

// NewCredential is the input of CreateCredentialAs. Secret "" generates
// one (returned once); Public is a public key or certificate (PEM or JWK)
// for the kinds verified with one.
type NewCredential struct {
	PrincipalID string         `json:"principal_id"`
	Kind        CredentialKind `json:"kind"`
	Lookup      string         `json:"lookup,omitempty"`
	Name        string         `json:"name,omitempty"`
	Public      string         `json:"public,omitempty"`
	Secret      string         `json:"-"` // the CLI's --secret-file; never over HTTP
}

// MaxIDLen bounds an object id given by a caller.
const MaxIDLen = 128

// checkID answers "not found" for an id no object can have (empty, too
// long, control or path characters) before the store sees it.
func checkID(what, id string) error {
	bad := id == "" || len(id) > MaxIDLen
	for _, c := range []byte(id) {
		bad = bad || c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '%'
	}
	if bad {
		return E(KindNotFound, "no such "+what)
	}
	return nil
}

func orgView(o Organisation) OrganisationView {
	return OrganisationView{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt}
}

func principalView(p Principal) PrincipalView {
	return PrincipalView{ID: p.ID, OrgID: p.OrgID, Kind: p.Kind, Name: p.Name, Disabled: p.Disabled, CreatedAt: p.CreatedAt}
}

func knownCredentialKind(k CredentialKind) bool {
	switch k {
	case CredAccessKey, CredClientSecret, CredAppToken, CredSigningKey, CredPassword, CredPublicKey, CredCertificate, CredAPIKey, CredPSK:
		return true
	}
	return false
}

func credentialView(c Credential) CredentialView {
	return CredentialView{ID: c.ID, OrgID: c.OrgID, PrincipalID: c.PrincipalID, Kind: c.Kind, Lookup: c.Lookup, Name: c.Name,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, RevokedAt: c.RevokedAt}
}

// requestInfo is what a gate may tell of the request it carries (the
// admin API's), for the audit records of changes.
type requestInfo interface {
	RemoteAddr() string
	RequestID() string
}

// ChangeEvent is the audit record of a change to an object of org (and
// principal) made through g under protocol: it names the actor and, for
// the admin API's gate, the client address and request id.
func ChangeEvent(g Gate, protocol, action, orgID, principalID, subject, reason string) AuditEvent {
	act := g.Actor()
	by := "by the operator (command line)"
	if act.PrincipalID != "" {
		by = "by " + string(act.Kind) + " " + act.PrincipalID
	}
	if reason != "" {
		by = reason + " " + by
	}
	e := AuditEvent{Action: action, Protocol: protocol, OrgID: orgID, PrincipalID: principalID, Subject: subject, Outcome: OutcomeSuccess, Reason: by}
	if ri, ok := g.(requestInfo); ok {
		e.RemoteAddr, e.RequestID = ri.RemoteAddr(), ri.RequestID()
	}
	return e
}

// RevocationBy names g's actor and request as the revoker of a credential.
func RevocationBy(g Gate, protocol, reason string) Revocation {
	act := g.Actor()
	r := Revocation{Protocol: protocol, Reason: reason, OrgID: act.OrgID, PrincipalID: act.PrincipalID}
	if ri, ok := g.(requestInfo); ok {
		r.RemoteAddr, r.RequestID = ri.RemoteAddr(), ri.RequestID()
	}
	return r
}

// recordChange audits a change to an object of org (and principal) made
// through g, naming the actor.
func (s Services) recordChange(ctx context.Context, g Gate, action, orgID, principalID, subject, reason string) error {
	return s.Audit.Record(ctx, ChangeEvent(g, "admin", action, orgID, principalID, subject, reason))
}

// ListOrganisations lists the organisations g's actor may read: every one
// for an admin, its own for an owner or a user.
func (s Services) ListOrganisations(ctx context.Context, g Gate, p Page) ([]OrganisationView, int, error) {
	org, err := ListOrg(ctx, g, ActOrganisationsRead, "", "organisations")
	if err != nil {
		return nil, 0, err
	}
	if org != "" {
		o, err := s.Store.GetOrganisation(ctx, org)
		if err != nil {
			return nil, 0, err
		}
		if p.Offset > 0 {
			return []OrganisationView{}, 1, nil
		}
		return []OrganisationView{orgView(o)}, 1, nil
	}
	os, total, err := s.Store.ListOrganisations(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]OrganisationView, 0, len(os))
	for _, o := range os {
		out = append(out, orgView(o))
	}
	return out, total, nil
}

// GetOrganisation reads one organisation.
func (s Services) GetOrganisation(ctx context.Context, g Gate, id string) (OrganisationView, error) {
	o, err := lookupID(ctx, g, ActOrganisationsRead, "organisation", id, errNoOrganisation, s.Store.GetOrganisation,
		func(o Organisation) Target { return Target{OrgID: o.ID} })
	if err != nil {
		return OrganisationView{}, err
	}
	return orgView(o), nil
}

// CreateOrganisationAs creates an organisation (administrators only).
func (s Services) CreateOrganisationAs(ctx context.Context, g Gate, in NewOrganisation) (OrganisationView, error) {
	if err := g.Authorize(ctx, ActOrganisationsCreate, Target{}, "organisation "+LogSafe(in.Name, 64)); err != nil {
		return OrganisationView{}, err
	}
	o, err := s.CreateOrganisation(ctx, in.Name)
	if err != nil {
		return OrganisationView{}, err
	}
	return orgView(o), s.recordChange(ctx, g, AuditCreate, o.ID, "", "organisation "+o.Name, "")
}

// ListPrincipals lists the principals of an organisation (of one kind
// when kind is set). An owner's or a user's listing is its own
// organisation's; asking for another one is refused and audited. An
// admin names the organisation.
func (s Services) ListPrincipals(ctx context.Context, g Gate, orgID string, kind PrincipalKind, p Page) ([]PrincipalView, int, error) {
	if kind != "" && !kind.Valid() {
		return nil, 0, E(KindInvalidInput, "unknown principal kind "+LogSafe(string(kind), 32))
	}
	if orgID != "" {
		if err := checkID("organisation", orgID); err != nil {
			return nil, 0, err
		}
	}
	org, err := ListOrg(ctx, g, ActPrincipalsRead, orgID, "principals")
	if err != nil {
		return nil, 0, err
	}
	if org == "" {
		return nil, 0, E(KindInvalidInput, "give the organisation (org) whose principals to list")
	}
	ps, total, err := s.Store.ListPrincipals(ctx, org, kind, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PrincipalView, 0, len(ps))
	for _, pr := range ps {
		out = append(out, principalView(pr))
	}
	return out, total, nil
}

// The answers for an identifier naming nothing the caller may see.
var (
	errNoOrganisation = E(KindNotFound, "no such organisation")
	errNoPrincipal    = E(KindNotFound, "no such principal")
	errNoCredential   = E(KindNotFound, "no such credential")
)

// principal reads principal id and checks g may perform action on it
// (Lookup: one the caller may not see is not found).
func (s Services) principal(ctx context.Context, g Gate, action Action, id string) (Principal, error) {
	return lookupID(ctx, g, action, "principal", id, errNoPrincipal, s.Store.GetPrincipal,
		func(p Principal) Target { return Target{OrgID: p.OrgID, PrincipalID: p.ID} })
}

// GetPrincipal reads one principal.
func (s Services) GetPrincipal(ctx context.Context, g Gate, id string) (PrincipalView, error) {
	p, err := s.principal(ctx, g, ActPrincipalsRead, id)
	if err != nil {
		return PrincipalView{}, err
	}
	return principalView(p), nil
}

// CreatePrincipalAs creates a principal in an existing organisation
// (administrators only).
func (s Services) CreatePrincipalAs(ctx context.Context, g Gate, in NewPrincipal) (PrincipalView, error) {
	if err := checkID("organisation", in.OrgID); err != nil {
		return PrincipalView{}, err
	}
	if err := g.Authorize(ctx, ActPrincipalsCreate, Target{OrgID: in.OrgID}, "principal "+LogSafe(in.Name, 64)); err != nil {
		return PrincipalView{}, err
	}
	if _, err := s.Store.GetOrganisation(ctx, in.OrgID); err != nil {
		return PrincipalView{}, err
	}
	p, err := s.CreatePrincipal(ctx, in.OrgID, in.Kind, in.Name)
	if err != nil {
		return PrincipalView{}, err
	}
	return principalView(p), s.recordChange(ctx, g, AuditCreate, p.OrgID, p.ID, string(p.Kind)+" "+p.Name, "")
}

// DisablePrincipal disables a principal and revokes every token issued to
// it (administrators only; an administrator cannot disable itself).
func (s Services) DisablePrincipal(ctx context.Context, g Gate, id string) (PrincipalDisabled, error) {
	p, err := s.principal(ctx, g, ActPrincipalsDisable, id)
	if err != nil {
		return PrincipalDisabled{}, err
	}
	if p.ID == g.Actor().PrincipalID {
		return PrincipalDisabled{}, E(KindConflict, "a principal cannot disable itself")
	}
	if err := s.Store.SetPrincipalDisabled(ctx, p.ID, true); err != nil {
		return PrincipalDisabled{}, err
	}
	n, err := s.Tokens.RevokePrincipal(ctx, p.ID) // this node's token cache drops them at once
	if err != nil {
		return PrincipalDisabled{}, err
	}
	return PrincipalDisabled{Disabled: p.ID, TokensRevoked: n},
		s.recordChange(ctx, g, AuditRevoke, p.OrgID, p.ID, string(p.Kind)+" "+p.Name, "principal disabled")
}

// ListCredentials lists credentials by organisation, principal and kind
// (kind access_key: the OAuth2 access keys). A principal's listing is
// authorized on the principal's organisation; an organisation's on it; an
// owner's or a user's listing without either is its own organisation's;
// an admin's without either covers every organisation.
func (s Services) ListCredentials(ctx context.Context, g Gate, f CredentialFilter, p Page) ([]CredentialView, int, error) {
	if f.Kind != "" && !knownCredentialKind(f.Kind) {
		return nil, 0, E(KindInvalidInput, "unknown credential kind "+LogSafe(string(f.Kind), 32))
	}
	f.LookupPrefix = ""
	if f.PrincipalID != "" {
		pr, err := s.principal(ctx, g, ActCredentialsRead, f.PrincipalID)
		if err != nil {
			return nil, 0, err
		}
		if f.OrgID != "" && f.OrgID != pr.OrgID {
			return []CredentialView{}, 0, nil // the principal is not of that organisation
		}
		f.OrgID = pr.OrgID
	} else {
		if f.OrgID != "" {
			if err := checkID("organisation", f.OrgID); err != nil {
				return nil, 0, err
			}
		}
		org, err := ListOrg(ctx, g, ActCredentialsRead, f.OrgID, "credentials")
		if err != nil {
			return nil, 0, err
		}
		f.OrgID = org
	}
	cs, total, err := s.Store.ListCredentials(ctx, f, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]CredentialView, 0, len(cs))
	for _, c := range cs {
		out = append(out, credentialView(c))
	}
	return out, total, nil
}

// credential reads credential id and checks g may perform action on it
// (Lookup: one the caller may not see is not found).
func (s Services) credential(ctx context.Context, g Gate, action Action, id string) (Credential, error) {
	return lookupID(ctx, g, action, "credential", id, errNoCredential, s.Store.GetCredential,
		func(c Credential) Target { return Target{OrgID: c.OrgID, PrincipalID: c.PrincipalID} })
}

// lookupID is Lookup for an object of the store read by its id (kind
// names it in checkID's refusal and in the audit subject): the id's form
// is checked, get reads it, target says whose it is.
func lookupID[T any](ctx context.Context, g Gate, action Action, kind, id string, notFound error,
	get func(context.Context, string) (T, error), target func(T) Target) (T, error) {
	var v T
	err := Lookup(ctx, g, action, kind+" "+LogSafe(id, MaxIDLen), notFound, func(ctx context.Context) (Target, error) {
		if err := checkID(kind, id); err != nil {
			return Target{}, err
		}
		var err error
		v, err = get(ctx, id)
		return target(v), err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// GetCredential reads one credential's metadata (never its secret).
func (s Services) GetCredential(ctx context.Context, g Gate, id string) (CredentialView, error) {
	c, err := s.credential(ctx, g, ActCredentialsRead, id)
	if err != nil {
		return CredentialView{}, err
	}
	return credentialView(c), nil
}

// CreateCredentialAs creates a credential for a principal (administrators
// only); a generated secret is in the answer, this once.
func (s Services) CreateCredentialAs(ctx context.Context, g Gate, in NewCredential) (CreatedCredential, error) {
	p, err := s.principal(ctx, g, ActCredentialsCreate, in.PrincipalID)
	if err != nil {
		return CreatedCredential{}, err
	}
	if in.Kind == "" {
		in.Kind = CredAccessKey
	}
	if !knownCredentialKind(in.Kind) {
		return CreatedCredential{}, E(KindInvalidInput, "unknown credential kind "+LogSafe(string(in.Kind), 32))
	}
	spec := CredentialSpec{OrgID: p.OrgID, PrincipalID: p.ID, Kind: in.Kind, Lookup: in.Lookup, Name: in.Name, Secret: in.Secret}
	if in.Public != "" {
		spec.Public = []byte(in.Public)
	}
	c, secret, err := s.Credentials.Create(ctx, spec)
	if err != nil {
		return CreatedCredential{}, err
	}
	out := CreatedCredential{CredentialView: credentialView(c)}
	if in.Secret == "" {
		out.Secret = secret
	}
	return out, s.recordChange(ctx, g, AuditCreate, c.OrgID, c.PrincipalID, string(c.Kind)+" "+c.Lookup, "")
}

// RevokeCredentialAs revokes a credential and every token issued to its
// principal (administrators only).
func (s Services) RevokeCredentialAs(ctx context.Context, g Gate, id string) (CredentialRevoked, error) {
	c, err := s.credential(ctx, g, ActCredentialsRevoke, id)
	if err != nil {
		return CredentialRevoked{}, err
	}
	if err := s.Store.RevokeCredential(ctx, c.ID, s.Clock.Now()); err != nil {
		return CredentialRevoked{}, err
	}
	n, err := s.Tokens.RevokePrincipal(ctx, c.PrincipalID)
	if err != nil {
		return CredentialRevoked{}, err
	}
	return CredentialRevoked{Revoked: c.ID, TokensRevoked: n},
		s.recordChange(ctx, g, AuditRevoke, c.OrgID, c.PrincipalID, string(c.Kind)+" "+c.Lookup, "")
}
