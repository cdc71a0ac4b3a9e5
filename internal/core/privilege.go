package core

import (
	"context"
	"errors"
	"sort"
)

// Action names one operation of an admin or management API (or the use
// of a protected resource). Every route that manages something maps to
// exactly one action, and Authorize decides it from the privilege table.
type Action string

// The actions of every admin and management route, by family.
const (
	// Organisations and device-server access keys (/accesskeys).
	ActOrganisationsCreate Action = "organisations.create" // POST /accesskeys as admin: a key in a new organisation
	ActAccessKeysRead      Action = "accesskeys.read"      // GET /accesskeys, GET /accesskeys/{key}
	ActAccessKeysCreate    Action = "accesskeys.create"    // POST /accesskeys
	ActAccessKeysUpdate    Action = "accesskeys.update"    // PUT /accesskeys/{key}
	ActAccessKeysDelete    Action = "accesskeys.delete"    // DELETE /accesskeys/{key}

	// Device identities (/identities).
	ActIdentitiesRead               Action = "identities.read"                // GET /identities, /identities/psk[/{id}], /identities/certificates[/{serial}]
	ActIdentitiesCurrentRead        Action = "identities.current.read"        // GET /identities/current (mTLS)
	ActIdentitiesPSKCreate          Action = "identities.psk.create"          // POST /identities/psk
	ActIdentitiesPSKDelete          Action = "identities.psk.delete"          // DELETE /identities/psk/{id}
	ActIdentitiesCertificatesCreate Action = "identities.certificates.create" // POST /identities/certificates
	ActIdentitiesCertificatesDelete Action = "identities.certificates.delete" // DELETE /identities/certificates/{serial}

	// Tokens: RFC 7662 introspection, RFC 7009 revocation (and Apstrata
	// DeleteToken), tokens minted for another principal (Apstrata runAs).
	ActTokensIntrospect Action = "tokens.introspect"
	ActTokensRevoke     Action = "tokens.revoke"
	ActTokensIssueAs    Action = "tokens.issue_as"

	// Built-in CA API (/ca/...; the CRL and root certificate are public).
	ActCAIssue  Action = "ca.issue"  // POST /ca/sign
	ActCARead   Action = "ca.read"   // GET /ca/certificates[/{serial}]
	ActCARevoke Action = "ca.revoke" // POST /ca/certificates/{serial}/revoke

	// API subscriptions admin API (/admin/subscriptions/...).
	ActSubscriptionsAdmin Action = "subscriptions.admin"

	// Gateway routes stored in the database (/admin/gateway/routes, authgate route).
	ActGatewayRoutesRead   Action = "gateway.routes.read"   // GET /admin/gateway/routes[/{name}]
	ActGatewayRoutesCreate Action = "gateway.routes.create" // POST /admin/gateway/routes
	ActGatewayRoutesDelete Action = "gateway.routes.delete" // DELETE /admin/gateway/routes/{name}

	// TAAP clients, their PoP keys and SIM records (/admin/taap/...,
	// /taap/v1/clients, /taap/v1/sims, authgate taap).
	ActClientsCreate    Action = "taap.clients.create"
	ActClientsRead      Action = "taap.clients.read"
	ActClientsDelete    Action = "taap.clients.delete"
	ActClientKeysCreate Action = "taap.clients.keys.create"
	ActClientKeysRead   Action = "taap.clients.keys.read"
	ActClientKeysRevoke Action = "taap.clients.keys.revoke"
	ActSIMsCreate       Action = "taap.sims.create"
	ActSIMsRead         Action = "taap.sims.read"
	ActSIMsDelete       Action = "taap.sims.delete"

	// TPV brands and their products (program codes) (/admin/tpv/...,
	// authgate tpv brand); a brand manages its own products through the
	// TPV API, authenticated by its Signature, not by this table.
	ActTPVBrandsCreate   Action = "tpv.brands.create"
	ActTPVBrandsRead     Action = "tpv.brands.read"
	ActTPVBrandsDelete   Action = "tpv.brands.delete"
	ActTPVProductsCreate Action = "tpv.products.create"
	ActTPVProductsRead   Action = "tpv.products.read"
	ActTPVProductsDelete Action = "tpv.products.delete"

	// The audit log (GET /admin/audit): an owner reads its organisation's.
	ActAuditRead Action = "audit.read"

	// The dashboard's counters (GET /admin/stats): they are the node's,
	// not an organisation's, so administrators read them only.
	ActStatsRead Action = "stats.read"

	// The core's objects in the admin API and `authgate admin`: owners and
	// users read their own organisation's, administrators change them.
	ActOrganisationsRead Action = "organisations.read" // GET /admin/organisations[/{id}] (create: organisations.create)
	ActPrincipalsRead    Action = "principals.read"    // GET /admin/principals[/{id}]
	ActPrincipalsCreate  Action = "principals.create"  // POST /admin/principals
	ActPrincipalsDisable Action = "principals.disable" // POST /admin/principals/{id}/disable
	ActCredentialsRead   Action = "credentials.read"   // GET /admin/credentials[/{id}] (never a secret)
	ActCredentialsCreate Action = "credentials.create" // POST /admin/credentials
	ActCredentialsRevoke Action = "credentials.revoke" // POST /admin/credentials/{id}/revoke

	// Apstrata accounts and their users and devices (/admin/apstrata/accounts/...).
	ActApstrataAccountsCreate Action = "apstrata.accounts.create" // POST /admin/apstrata/accounts
	ActApstrataAccountsRead   Action = "apstrata.accounts.read"   // GET /admin/apstrata/accounts[/{id}]
	ActApstrataAccountsDelete Action = "apstrata.accounts.delete" // DELETE /admin/apstrata/accounts/{id}
	ActApstrataMembersCreate  Action = "apstrata.members.create"  // POST /admin/apstrata/accounts/{id}/members
	ActApstrataMembersRead    Action = "apstrata.members.read"    // GET /admin/apstrata/accounts/{id}/members[/{name}]
	ActApstrataMembersDelete  Action = "apstrata.members.delete"  // DELETE /admin/apstrata/accounts/{id}/members/{name}

	// M2M partners, M2MApiKeys, SIMs and the callback outbox (/admin/m2m/...).
	ActM2MPartnersRead  Action = "m2m.partners.read"  // GET /admin/m2m/partners[/{id}]
	ActM2MAPIKeysCreate Action = "m2m.apikeys.create" // POST /admin/m2m/apikeys
	ActM2MAPIKeysRead   Action = "m2m.apikeys.read"   // GET /admin/m2m/apikeys[/{id}]
	ActM2MAPIKeysRevoke Action = "m2m.apikeys.revoke" // POST /admin/m2m/apikeys/{id}/revoke
	ActM2MSIMsCreate    Action = "m2m.sims.create"    // POST /admin/m2m/sims
	ActM2MSIMsRead      Action = "m2m.sims.read"      // GET /admin/m2m/sims[/{id}]
	ActM2MSIMsDelete    Action = "m2m.sims.delete"    // DELETE /admin/m2m/sims/{id}
	ActM2MOutboxRead    Action = "m2m.outbox.read"    // GET /admin/m2m/outbox
	ActM2MOutboxRequeue Action = "m2m.outbox.requeue" // POST /admin/m2m/outbox/{id}/requeue

	// Protected resources (TPV API, M2M services, TAAP resources, Apstrata
	// actions, routes behind a bearer token): the API subscription policy
	// decides further which resource a caller may use.
	ActResourcesUse Action = "resources.use"
)

// Reach is how far a grant extends.
type Reach uint8

// Reaches, from none to every organisation.
const (
	ReachNone Reach = iota // not granted
	ReachSelf              // only objects of the acting principal itself
	ReachOrg               // objects of the acting principal's organisation
	ReachAll               // objects of every organisation
)

func (r Reach) String() string {
	switch r {
	case ReachSelf:
		return "self"
	case ReachOrg:
		return "organisation"
	case ReachAll:
		return "all"
	}
	return "none"
}

// privileges is THE privilege table: per action, how far each principal
// kind may perform it. A kind not listed for an action is refused it.
// Devices manage nothing: they read their own identity and use the
// resources they are subscribed to. docs/security.md prints this table.
var privileges = map[Action]map[PrincipalKind]Reach{
	ActOrganisationsCreate: {PrincipalAdmin: ReachAll},
	ActAccessKeysRead:      {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActAccessKeysCreate:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActAccessKeysUpdate:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActAccessKeysDelete:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},

	ActIdentitiesRead:               {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActIdentitiesCurrentRead:        {PrincipalDevice: ReachSelf},
	ActIdentitiesPSKCreate:          {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActIdentitiesPSKDelete:          {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActIdentitiesCertificatesCreate: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActIdentitiesCertificatesDelete: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},

	ActTokensIntrospect: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActTokensRevoke: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachSelf,
		PrincipalDevice: ReachSelf, PrincipalApplication: ReachSelf, PrincipalPartner: ReachSelf},
	ActTokensIssueAs: {PrincipalOwner: ReachOrg},

	ActCAIssue:  {PrincipalAdmin: ReachAll},
	ActCARead:   {PrincipalAdmin: ReachAll},
	ActCARevoke: {PrincipalAdmin: ReachAll},

	ActSubscriptionsAdmin: {PrincipalAdmin: ReachAll},

	ActGatewayRoutesRead:   {PrincipalAdmin: ReachAll},
	ActGatewayRoutesCreate: {PrincipalAdmin: ReachAll},
	ActGatewayRoutesDelete: {PrincipalAdmin: ReachAll},

	// Reads reach the owner's and user's own organisation (the console's
	// read-only view); every change is an administrator's.
	ActClientsCreate:    {PrincipalAdmin: ReachAll},
	ActClientsRead:      {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActClientsDelete:    {PrincipalAdmin: ReachAll},
	ActClientKeysCreate: {PrincipalAdmin: ReachAll},
	ActClientKeysRead:   {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActClientKeysRevoke: {PrincipalAdmin: ReachAll},
	ActSIMsCreate:       {PrincipalAdmin: ReachAll},
	ActSIMsRead:         {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActSIMsDelete:       {PrincipalAdmin: ReachAll},

	ActTPVBrandsCreate:   {PrincipalAdmin: ReachAll},
	ActTPVBrandsRead:     {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActTPVBrandsDelete:   {PrincipalAdmin: ReachAll},
	ActTPVProductsCreate: {PrincipalAdmin: ReachAll},
	ActTPVProductsRead:   {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActTPVProductsDelete: {PrincipalAdmin: ReachAll},

	ActAuditRead: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg},

	ActStatsRead: {PrincipalAdmin: ReachAll},

	ActOrganisationsRead: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActPrincipalsRead:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActPrincipalsCreate:  {PrincipalAdmin: ReachAll},
	ActPrincipalsDisable: {PrincipalAdmin: ReachAll},
	ActCredentialsRead:   {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActCredentialsCreate: {PrincipalAdmin: ReachAll},
	ActCredentialsRevoke: {PrincipalAdmin: ReachAll},

	// Owners and users read their own organisation's family objects (the
	// console's read-only view); every change is an administrator's.
	ActApstrataAccountsCreate: {PrincipalAdmin: ReachAll},
	ActApstrataAccountsRead:   {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActApstrataAccountsDelete: {PrincipalAdmin: ReachAll},
	ActApstrataMembersCreate:  {PrincipalAdmin: ReachAll},
	ActApstrataMembersRead:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActApstrataMembersDelete:  {PrincipalAdmin: ReachAll},

	ActM2MPartnersRead:  {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActM2MAPIKeysCreate: {PrincipalAdmin: ReachAll},
	ActM2MAPIKeysRead:   {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActM2MAPIKeysRevoke: {PrincipalAdmin: ReachAll},
	ActM2MSIMsCreate:    {PrincipalAdmin: ReachAll},
	ActM2MSIMsRead:      {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActM2MSIMsDelete:    {PrincipalAdmin: ReachAll},
	ActM2MOutboxRead:    {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg},
	ActM2MOutboxRequeue: {PrincipalAdmin: ReachAll},

	ActResourcesUse: {PrincipalAdmin: ReachAll, PrincipalOwner: ReachOrg, PrincipalUser: ReachOrg,
		PrincipalDevice: ReachSelf, PrincipalApplication: ReachOrg, PrincipalPartner: ReachOrg},
}

// Granted reports how far kind may perform action (ReachNone: not at all).
func Granted(kind PrincipalKind, action Action) Reach {
	return privileges[action][kind]
}

// Privilege is one row of the table, for documentation and tests.
type Privilege struct {
	Action Action
	Grants map[PrincipalKind]Reach
}

// PrivilegeTable returns a copy of the table, sorted by action.
func PrivilegeTable() []Privilege {
	out := make([]Privilege, 0, len(privileges))
	for a, g := range privileges {
		c := make(map[PrincipalKind]Reach, len(g))
		for k, r := range g {
			c[k] = r
		}
		out = append(out, Privilege{Action: a, Grants: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out
}

// Actor is the authenticated principal asking to perform an action.
type Actor struct {
	Kind        PrincipalKind
	OrgID       string
	PrincipalID string
}

// Target is the object an action is performed on. Zero fields mean "no
// particular owner": creating or listing in the actor's own organisation.
// OrgID is the organisation owning the object, PrincipalID the principal
// it belongs to (a key's or certificate's principal, a token's holder).
type Target struct {
	OrgID       string
	PrincipalID string
}

// Authorization is one privilege check, with what the audit record of a
// refusal needs.
type Authorization struct {
	Actor  Actor
	Action Action
	Target Target
	// Subject names the object for the audit log (never a secret).
	Subject    string
	Protocol   string // audit protocol of the adapter asking
	RemoteAddr string
	RequestID  string
}

// ErrOutOfReach is the cause of a refusal whose action the actor's kind
// is granted but whose target lies outside the grant's reach (another
// organisation's object, or another principal's for a self grant). A
// lifecycle operation that found the target by a caller-supplied
// identifier answers such a refusal as not found (Lookup), so that the
// refusal tells nothing about which identifiers exist; errors.Is matches it.
var ErrOutOfReach = errors.New("the target is outside the caller's reach")

// check decides a against the table without side effects; outOfReach
// tells a refusal of a granted action on a target beyond its reach.
func (a Authorization) check() (reason string, outOfReach, ok bool) {
	reach := Granted(a.Actor.Kind, a.Action)
	act := a.Actor
	t := a.Target
	switch {
	case act.Kind == "" || act.OrgID == "" || act.PrincipalID == "":
		return "unknown actor", false, false
	case reach == ReachNone:
		return string(a.Action) + " is not granted to " + string(act.Kind) + " principals", false, false
	case reach == ReachAll:
		return "", false, true
	case t.OrgID != "" && t.OrgID != act.OrgID:
		return string(a.Action) + " on another organisation's object", true, false
	case reach == ReachSelf && t.PrincipalID != act.PrincipalID:
		// Self reach needs a target owned by the actor: a device creates
		// and lists nothing, and never touches another device's objects.
		return string(a.Action) + " on an object that is not the " + string(act.Kind) + "'s own (" + string(act.Kind) + " principals act on themselves only)", true, false
	}
	return "", false, true
}

// Permitted reports whether the table grants a, without auditing: a
// caller that formats a's audit details (Subject, RemoteAddr) only for a
// refusal asks this first and calls Authorizer.Authorize, which audits,
// when it is false.
func (a Authorization) Permitted() bool {
	_, _, ok := a.check()
	return ok
}

// Allowed reports whether a is granted, without auditing (entry-point
// links, listings that hide what the caller may not use).
func Allowed(kind PrincipalKind, action Action) bool {
	return Granted(kind, action) != ReachNone
}

// forbiddenRecorder is what Authorizer needs to audit refusals.
type forbiddenRecorder interface {
	Record(ctx context.Context, e AuditEvent) error
}

var _ forbiddenRecorder = (*Auditor)(nil)

// Authorizer is the one privilege check every adapter and admin API calls
// after authentication.
type Authorizer struct {
	audit forbiddenRecorder
}

// NewAuthorizer builds the check; refusals are recorded through audit.
func NewAuthorizer(audit forbiddenRecorder) *Authorizer { return &Authorizer{audit: audit} }

// AuditForbidden is the audit action of a refused privilege check.
const AuditForbidden = "forbidden"

// Authorize returns nil if a's actor may perform a's action on its
// target, else a KindForbidden error, caused by ErrOutOfReach when the
// action is granted but the target is beyond its reach; refusals are
// audited with the reason. A failure to audit does not turn a refusal
// into a grant.
func (z *Authorizer) Authorize(ctx context.Context, a Authorization) error {
	reason, outOfReach, ok := a.check()
	if ok {
		return nil
	}
	z.refused(ctx, a, reason)
	if outOfReach {
		return Wrap(KindForbidden, "not allowed: "+reason, ErrOutOfReach)
	}
	return E(KindForbidden, "not allowed: "+reason)
}

// refused audits a refusal of a.
func (z *Authorizer) refused(ctx context.Context, a Authorization, reason string) {
	if z != nil && z.audit != nil {
		_ = z.audit.Record(ctx, AuditEvent{Action: AuditForbidden, Protocol: a.Protocol, OrgID: a.Actor.OrgID, PrincipalID: a.Actor.PrincipalID,
			Subject: a.Subject, Outcome: OutcomeFailure, Reason: string(a.Action) + ": " + reason, RemoteAddr: a.RemoteAddr, RequestID: a.RequestID})
	}
}

// AdminFor is what "admin" means everywhere: kind may perform action on
// the objects of every organisation (ReachAll in the table). Admin APIs
// (CA, subscriptions, TAAP clients and SIMs) act across organisations, so
// they require it; the OAuth2 routes use it to decide which callers see
// every organisation's objects and which pass the subscription policy
// unchecked.
func AdminFor(kind PrincipalKind, action Action) bool {
	return Granted(kind, action) == ReachAll
}

// AuthorizeAdmin is Authorize for an admin API: the actor's kind must be
// AdminFor the action (a grant limited to one organisation or to the
// actor itself is not enough). Refusals are audited with the reason.
func (z *Authorizer) AuthorizeAdmin(ctx context.Context, a Authorization) error {
	if a.Actor.Kind == "" || a.Actor.OrgID == "" || a.Actor.PrincipalID == "" || !AdminFor(a.Actor.Kind, a.Action) {
		if err := z.Authorize(ctx, a); err != nil {
			return err // refused by the table itself, audited there
		}
		reason := string(a.Action) + " acts on every organisation: granted to administrators only, not to " + string(a.Actor.Kind) + " principals"
		z.refused(ctx, a, reason)
		return E(KindForbidden, "not allowed: "+reason)
	}
	return nil
}
