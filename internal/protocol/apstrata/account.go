package apstrata

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// The lifecycle of accounts and of their users and devices: one set of
// operations, called by the admin API (/admin/apstrata/...) and by the
// CLI (authgate apstrata account|member ...), each authorizing its caller
// with the privilege table through a core.Gate.
//
// An account is an organisation with an owner principal holding the
// signing credential (authKey + secret); its members are users and devices
// of that organisation with a password credential "<authKey>/<id>".
// Deleting revokes the credentials (a revoked authKey stops every
// signature and token of the account at once, see Module.account), revokes
// the tokens and disables the principals; the records stay for the audit
// trail, so a deleted member's id is not reused.

// The services the operations need, as small interfaces.
type (
	adminProvisioner interface {
		CreateOrganisation(ctx context.Context, name string) (core.Organisation, error)
		CreatePrincipal(ctx context.Context, orgID string, kind core.PrincipalKind, name string) (core.Principal, error)
		// RevokeCredential revokes a credential and the tokens issued on it, audited.
		RevokeCredential(ctx context.Context, c core.Credential, by core.Revocation) (int, error)
	}
	adminCredentials interface {
		Create(ctx context.Context, spec core.CredentialSpec) (core.Credential, string, error)
	}
	adminStore interface {
		GetOrganisation(ctx context.Context, id string) (core.Organisation, error)
		GetPrincipal(ctx context.Context, id string) (core.Principal, error)
		SetPrincipalDisabled(ctx context.Context, id string, disabled bool) error
		FindCredential(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error)
		ListCredentials(ctx context.Context, f core.CredentialFilter, p core.Page) ([]core.Credential, int, error)
		RevokePrincipalTokens(ctx context.Context, principalID string, at time.Time) (int, error)
	}
)

var (
	_ adminProvisioner = core.Services{}
	_ adminCredentials = (*core.Credentials)(nil)
	_ adminStore       = (core.Store)(nil)
)

// Accounts are the operations on accounts and members.
type Accounts struct {
	clock core.Clock
	prov  adminProvisioner
	creds adminCredentials
	store adminStore
	audit auditor
}

// NewAccounts takes the operations' collaborators from the core services.
func NewAccounts(svc core.Services) *Accounts {
	return &Accounts{clock: svc.Clock, prov: svc, creds: svc.Credentials, store: svc.Store, audit: svc.Audit}
}

// accountKeyName names the signing credential of an account.
const accountKeyName = "apstrata account key"

// maxName bounds account names and member ids.
const maxName = 200

// AccountView is what the admin API and the CLI show of an account: never
// its secret. ID is the authKey, the account's name in every request.
type AccountView struct {
	ID        string     `json:"id"`
	AuthKey   string     `json:"auth_key"`
	OrgID     string     `json:"org_id"`
	Name      string     `json:"name"`
	OwnerID   string     `json:"owner_id"`
	CreatedAt time.Time  `json:"created_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Account is a created account: its view and the owner's secret, shown once.
type Account struct {
	AccountView
	Secret string `json:"secret"`
}

// MemberView is what the admin API and the CLI show of a user or device:
// never its password. Name is its id in the protocol (apsws.user, apsws.id).
type MemberView struct {
	Name        string             `json:"name"`
	Kind        core.PrincipalKind `json:"kind"`
	AuthKey     string             `json:"auth_key"`
	OrgID       string             `json:"org_id"`
	PrincipalID string             `json:"principal_id"`
	Disabled    bool               `json:"disabled"`
	CreatedAt   time.Time          `json:"created_at"`
	DeletedAt   *time.Time         `json:"deleted_at,omitempty"`
}

// Member is a created member: its view and its password when authgate
// generated it (shown once; "" when the caller chose it).
type Member struct {
	MemberView
	Secret string `json:"secret,omitempty"`
}

// CreateAccountRequest is the body of POST /admin/apstrata/accounts.
type CreateAccountRequest struct {
	Name string `json:"name"`
}

// CreateMemberRequest is the body of POST /admin/apstrata/accounts/{id}/members.
type CreateMemberRequest struct {
	Name string `json:"name"`
	// Device creates a device instead of a user.
	Device bool `json:"device,omitempty"`
	// Password is the member's password; empty: authgate generates one.
	Password string `json:"password,omitempty"`
}

// Deleted is the answer of a delete: what it revoked.
type Deleted struct {
	ID                 string `json:"id"`
	CredentialsRevoked int    `json:"credentials_revoked"`
	TokensRevoked      int    `json:"tokens_revoked"`
	PrincipalsDisabled int    `json:"principals_disabled"`
}

// List is one page of a listing.
type List[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// ListAccountsRequest selects accounts.
type ListAccountsRequest struct {
	OrgID          string // "" every organisation the caller may read
	IncludeDeleted bool
	Page           core.Page
}

// ListMembersRequest selects an account's members.
type ListMembersRequest struct {
	IncludeDeleted bool
	Page           core.Page
}

// CreateAccount creates an organisation with an owner and the owner's
// signing credential (authKey + secret, secret sealed at rest).
func (a *Accounts) CreateAccount(ctx context.Context, g core.Gate, r CreateAccountRequest) (Account, error) {
	name := strings.TrimSpace(r.Name)
	if name == "" || len(name) > maxName {
		return Account{}, core.E(core.KindInvalidInput, "the account name must be 1 to 200 characters")
	}
	if err := g.Authorize(ctx, core.ActApstrataAccountsCreate, core.Target{}, "account "+core.LogSafe(name, 64)); err != nil {
		return Account{}, err
	}
	org, err := a.prov.CreateOrganisation(ctx, name)
	if err != nil {
		return Account{}, err
	}
	p, err := a.prov.CreatePrincipal(ctx, org.ID, core.PrincipalOwner, name)
	if err != nil {
		return Account{}, err
	}
	// The authKey appears in URLs and signatures: keep it to the unreserved alphabet.
	c, secret, err := a.creds.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredSigningKey, Lookup: core.NewID(), Name: accountKeyName})
	if err != nil {
		return Account{}, err
	}
	if err := a.audit.Record(ctx, a.event(g, core.AuditCreate, org.ID, p.ID, "account "+c.Lookup, "")); err != nil {
		return Account{}, err
	}
	return Account{AccountView: accountView(c, org), Secret: secret}, nil
}

// ListAccounts lists accounts, oldest first: a caller granted every
// organisation sees them all (or r.OrgID's), any other its own organisation's.
func (a *Accounts) ListAccounts(ctx context.Context, g core.Gate, r ListAccountsRequest) (List[AccountView], error) {
	org, err := core.ListOrg(ctx, g, core.ActApstrataAccountsRead, r.OrgID, "apstrata accounts")
	if err != nil {
		return List[AccountView]{}, err
	}
	cs, total, err := a.store.ListCredentials(ctx, core.CredentialFilter{OrgID: org, Kind: core.CredSigningKey, IncludeRevoked: r.IncludeDeleted}, r.Page)
	if err != nil {
		return List[AccountView]{}, err
	}
	out := List[AccountView]{Items: make([]AccountView, 0, len(cs)), Total: total}
	for _, c := range cs {
		o, err := a.store.GetOrganisation(ctx, c.OrgID)
		if err != nil {
			return List[AccountView]{}, err
		}
		out.Items = append(out.Items, accountView(c, o))
	}
	return out, nil
}

// GetAccount shows one account, deleted ones included.
func (a *Accounts) GetAccount(ctx context.Context, g core.Gate, authKey string) (AccountView, error) {
	c, err := a.find(ctx, g, core.ActApstrataAccountsRead, authKey)
	if err != nil {
		return AccountView{}, err
	}
	o, err := a.store.GetOrganisation(ctx, c.OrgID)
	if err != nil {
		return AccountView{}, err
	}
	return accountView(c, o), nil
}

// DeleteAccount revokes the account's authKey and secret and every member's
// password, revokes the tokens of the owner and the members and disables
// them. Deleting a deleted account again revokes what is left (nothing).
func (a *Accounts) DeleteAccount(ctx context.Context, g core.Gate, authKey string) (Deleted, error) {
	acct, err := a.find(ctx, g, core.ActApstrataAccountsDelete, authKey)
	if err != nil {
		return Deleted{}, err
	}
	out := Deleted{ID: acct.Lookup}
	// Members first: once the authKey is revoked nothing of the account
	// authenticates, so a member revoked after it gains nothing meanwhile.
	for {
		ms, _, err := a.store.ListCredentials(ctx, core.CredentialFilter{OrgID: acct.OrgID, Kind: core.CredPassword, LookupPrefix: memberLookup(acct.Lookup, "")}, core.Page{Limit: 500})
		if err != nil {
			return out, err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if err := a.retire(ctx, g, m, "apstrata account "+acct.Lookup+" deleted", &out); err != nil {
				return out, err
			}
		}
	}
	if acct.RevokedAt == nil {
		if err := a.retire(ctx, g, acct, "apstrata account deleted", &out); err != nil {
			return out, err
		}
	}
	return out, a.audit.Record(ctx, a.event(g, core.AuditDelete, acct.OrgID, acct.PrincipalID, "account "+acct.Lookup,
		strconv.Itoa(out.CredentialsRevoked)+" credentials and "+strconv.Itoa(out.TokensRevoked)+" tokens revoked;"))
}

// retire revokes c and the tokens of its principal, and disables the principal.
func (a *Accounts) retire(ctx context.Context, g core.Gate, c core.Credential, reason string, out *Deleted) error {
	n, err := a.store.RevokePrincipalTokens(ctx, c.PrincipalID, a.clock.Now())
	if err != nil {
		return err
	}
	if err := a.store.SetPrincipalDisabled(ctx, c.PrincipalID, true); err != nil {
		return err
	}
	// Last: it also drops this node's cached tokens (core.Tokens).
	m, err := a.prov.RevokeCredential(ctx, c, core.RevocationBy(g, protocol, reason))
	if err != nil {
		return err
	}
	out.CredentialsRevoked++
	out.TokensRevoked += n + m
	out.PrincipalsDisabled++
	return nil
}

// CreateMember creates a user (or a device) of the account with the given
// id and password (sealed at rest: the protocol's signatures are keyed
// with its MD5). An empty password generates one, returned once.
func (a *Accounts) CreateMember(ctx context.Context, g core.Gate, authKey string, r CreateMemberRequest) (Member, error) {
	if err := checkMemberName(r.Name); err != nil {
		return Member{}, err
	}
	if len(r.Password) > 1024 {
		return Member{}, core.E(core.KindInvalidInput, "the password must be at most 1024 bytes")
	}
	acct, err := a.find(ctx, g, core.ActApstrataMembersCreate, authKey)
	if err != nil {
		return Member{}, err
	}
	if acct.RevokedAt != nil {
		return Member{}, core.E(core.KindConflict, "the account is deleted")
	}
	kind := core.PrincipalUser
	if r.Device {
		kind = core.PrincipalDevice
	}
	p, err := a.prov.CreatePrincipal(ctx, acct.OrgID, kind, r.Name)
	if err != nil {
		return Member{}, err
	}
	c, pw, err := a.creds.Create(ctx, core.CredentialSpec{OrgID: acct.OrgID, PrincipalID: p.ID, Kind: core.CredPassword, Lookup: memberLookup(authKey, r.Name), Secret: r.Password})
	if err != nil {
		return Member{}, err
	}
	if err := a.audit.Record(ctx, a.event(g, core.AuditCreate, acct.OrgID, p.ID, string(kind)+" "+r.Name, "in account "+authKey)); err != nil {
		return Member{}, err
	}
	out := Member{MemberView: memberView(acct.Lookup, c, p)}
	if r.Password == "" {
		out.Secret = pw
	}
	return out, nil
}

// ListMembers lists the users and devices of an account, oldest first.
func (a *Accounts) ListMembers(ctx context.Context, g core.Gate, authKey string, r ListMembersRequest) (List[MemberView], error) {
	acct, err := a.find(ctx, g, core.ActApstrataMembersRead, authKey)
	if err != nil {
		return List[MemberView]{}, err
	}
	cs, total, err := a.store.ListCredentials(ctx, core.CredentialFilter{OrgID: acct.OrgID, Kind: core.CredPassword,
		LookupPrefix: memberLookup(acct.Lookup, ""), IncludeRevoked: r.IncludeDeleted}, r.Page)
	if err != nil {
		return List[MemberView]{}, err
	}
	out := List[MemberView]{Items: make([]MemberView, 0, len(cs)), Total: total}
	for _, c := range cs {
		p, err := a.store.GetPrincipal(ctx, c.PrincipalID)
		if err != nil {
			return List[MemberView]{}, err
		}
		out.Items = append(out.Items, memberView(acct.Lookup, c, p))
	}
	return out, nil
}

// GetMember shows one user or device of an account, deleted ones included.
func (a *Accounts) GetMember(ctx context.Context, g core.Gate, authKey, name string) (MemberView, error) {
	acct, c, p, err := a.findMember(ctx, g, core.ActApstrataMembersRead, authKey, name)
	if err != nil {
		return MemberView{}, err
	}
	return memberView(acct.Lookup, c, p), nil
}

// DeleteMember revokes a member's password and tokens and disables it.
func (a *Accounts) DeleteMember(ctx context.Context, g core.Gate, authKey, name string) (Deleted, error) {
	acct, c, _, err := a.findMember(ctx, g, core.ActApstrataMembersDelete, authKey, name)
	if err != nil {
		return Deleted{}, err
	}
	out := Deleted{ID: name}
	if c.RevokedAt == nil {
		if err := a.retire(ctx, g, c, "apstrata member deleted", &out); err != nil {
			return out, err
		}
	}
	return out, a.audit.Record(ctx, a.event(g, core.AuditDelete, acct.OrgID, c.PrincipalID, "member "+core.LogSafe(name, 64), "of account "+acct.Lookup))
}

var errNoAccount = core.E(core.KindNotFound, "no such account")

// find reads the account authKey names and authorizes action on it. An
// account of an organisation the caller may not see is not found, as an
// unknown authKey is (core.Lookup; the refusal is audited).
func (a *Accounts) find(ctx context.Context, g core.Gate, action core.Action, authKey string) (core.Credential, error) {
	var c core.Credential
	err := core.Lookup(ctx, g, action, "account "+core.LogSafe(authKey, maxName), errNoAccount, func(ctx context.Context) (core.Target, error) {
		if authKey == "" || len(authKey) > maxName {
			return core.Target{}, errNoAccount
		}
		var err error
		c, err = a.store.FindCredential(ctx, core.CredSigningKey, authKey)
		return core.Target{OrgID: c.OrgID}, err
	})
	if err != nil {
		return core.Credential{}, err
	}
	return c, nil
}

func (a *Accounts) findMember(ctx context.Context, g core.Gate, action core.Action, authKey, name string) (core.Credential, core.Credential, core.Principal, error) {
	acct, err := a.find(ctx, g, action, authKey)
	if err != nil {
		return acct, core.Credential{}, core.Principal{}, err
	}
	if checkMemberName(name) != nil {
		return acct, core.Credential{}, core.Principal{}, core.E(core.KindNotFound, "no such user or device")
	}
	c, err := a.store.FindCredential(ctx, core.CredPassword, memberLookup(authKey, name))
	if core.KindOf(err) == core.KindNotFound || (err == nil && c.OrgID != acct.OrgID) {
		return acct, c, core.Principal{}, core.E(core.KindNotFound, "no such user or device")
	}
	if err != nil {
		return acct, c, core.Principal{}, err
	}
	p, err := a.store.GetPrincipal(ctx, c.PrincipalID)
	return acct, c, p, err
}

func checkMemberName(name string) error {
	if name == "" || len(name) > maxName {
		return core.E(core.KindInvalidInput, "the user or device id must be 1 to 200 characters")
	}
	return nil
}

// event is the audit record of a change made through g.
func (a *Accounts) event(g core.Gate, action, orgID, principalID, subject, reason string) core.AuditEvent {
	return core.ChangeEvent(g, protocol, action, orgID, principalID, subject, reason)
}

func accountView(c core.Credential, o core.Organisation) AccountView {
	return AccountView{ID: c.Lookup, AuthKey: c.Lookup, OrgID: c.OrgID, Name: o.Name, OwnerID: c.PrincipalID, CreatedAt: c.CreatedAt, DeletedAt: c.RevokedAt}
}

func memberView(authKey string, c core.Credential, p core.Principal) MemberView {
	return MemberView{Name: strings.TrimPrefix(c.Lookup, memberLookup(authKey, "")), Kind: p.Kind, AuthKey: authKey, OrgID: c.OrgID,
		PrincipalID: p.ID, Disabled: p.Disabled, CreatedAt: c.CreatedAt, DeletedAt: c.RevokedAt}
}

// CreateAccount creates an account as the operator (the CLI, tests and benchmarks).
func CreateAccount(ctx context.Context, svc core.Services, name string) (Account, error) {
	return NewAccounts(svc).CreateAccount(ctx, core.Operator{}, CreateAccountRequest{Name: name})
}

// CreateMember creates a user or device as the operator and returns its
// password (the one given, or the one generated).
func CreateMember(ctx context.Context, svc core.Services, authKey, id, password string, asDevice bool) (string, error) {
	m, err := NewAccounts(svc).CreateMember(ctx, core.Operator{}, authKey, CreateMemberRequest{Name: id, Password: password, Device: asDevice})
	if password != "" {
		return password, err
	}
	return m.Secret, err
}
