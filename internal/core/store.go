package core

import (
	"context"
	"time"
)

// The storage interfaces below are owned by core, one per aggregate. Both
// backends (internal/store/sqlite, internal/store/postgres) implement all of
// them and pass the same conformance suite (internal/store/storetest).
// Implementations return *Error values of KindNotFound, KindConflict or
// KindUnavailable so callers never see driver errors.

// OrganisationStore keeps organisations.
type OrganisationStore interface {
	CreateOrganisation(ctx context.Context, o Organisation) error
	GetOrganisation(ctx context.Context, id string) (Organisation, error)
	ListOrganisations(ctx context.Context, p Page) ([]Organisation, int, error)
}

// PrincipalStore keeps principals.
type PrincipalStore interface {
	CreatePrincipal(ctx context.Context, p Principal) error
	GetPrincipal(ctx context.Context, id string) (Principal, error)
	// FindPrincipal finds a principal by organisation, kind and name.
	FindPrincipal(ctx context.Context, orgID string, kind PrincipalKind, name string) (Principal, error)
	ListPrincipals(ctx context.Context, orgID string, kind PrincipalKind, p Page) ([]Principal, int, error)
	SetPrincipalDisabled(ctx context.Context, id string, disabled bool) error
	CountPrincipals(ctx context.Context, kind PrincipalKind) (int, error)
}

// CredentialFilter selects credentials; zero fields match everything.
type CredentialFilter struct {
	OrgID          string
	PrincipalID    string
	Kind           CredentialKind
	IncludeRevoked bool
	// LookupPrefix matches lookups starting with it (an Apstrata
	// account's members are "<authKey>/<id>").
	LookupPrefix string
}

// CredentialStore keeps credentials.
type CredentialStore interface {
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	// FindCredential finds a credential by kind and public lookup value.
	FindCredential(ctx context.Context, kind CredentialKind, lookup string) (Credential, error)
	ListCredentials(ctx context.Context, f CredentialFilter, p Page) ([]Credential, int, error)
	RenameCredential(ctx context.Context, id, name string) error
	RevokeCredential(ctx context.Context, id string, at time.Time) error
	// UpdateCredentialSecret replaces the secret hash (when secretHash is
	// set) or the sealed secret (when sealed is set) and the key id, if the
	// stored key id is still fromKeyID; it reports whether it did.
	UpdateCredentialSecret(ctx context.Context, id, fromKeyID string, secretHash, sealed []byte, keyID string) (bool, error)
}

// TokenStore keeps issued tokens by keyed hash.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	GetTokenByHash(ctx context.Context, hash []byte) (Token, error)
	// RehashToken replaces the token's hash and key id if its hash is still
	// oldHash, and reports whether it did.
	RehashToken(ctx context.Context, id string, oldHash, newHash []byte, keyID string) (bool, error)
	GetToken(ctx context.Context, id string) (Token, error)
	// MarkTokenRotated sets RotatedAt if it is unset and reports whether
	// this call did it (true exactly once per token across all nodes).
	MarkTokenRotated(ctx context.Context, id string, at time.Time) (bool, error)
	// CountTokenExchange counts one exchange of a refresh token if it is
	// allowed: when the token was never exchanged (RotatedAt is then set to
	// at), or was exchanged fewer than max times, first at or after since.
	// It returns the count including this exchange, 0 if it was refused.
	// Atomic across nodes.
	CountTokenExchange(ctx context.Context, id string, at, since time.Time, max int) (int, error)
	// ChooseTokenSuccessor records childID as the one successor of
	// parentID (a token of familyID) and reports true, unless another child
	// was recorded first; a parent that no longer exists refuses nothing.
	// Atomic across nodes.
	ChooseTokenSuccessor(ctx context.Context, parentID, childID, familyID string) (bool, error)
	// UpdateTokenExpiry moves a token's expiry (renewal, grace periods).
	UpdateTokenExpiry(ctx context.Context, id string, expires time.Time) error
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RevokeTokenFamily revokes every unrevoked token of the family and
	// returns how many it revoked.
	RevokeTokenFamily(ctx context.Context, familyID string, at time.Time) (int, error)
	// RevokePrincipalTokens revokes every token of a principal (all kinds).
	RevokePrincipalTokens(ctx context.Context, principalID string, at time.Time) (int, error)
	// RevokeCredentialTokens revokes every unrevoked token issued on the
	// strength of a credential (Token.CredentialID) and returns how many.
	RevokeCredentialTokens(ctx context.Context, credentialID string, at time.Time) (int, error)
	// CountActiveTokens counts unrevoked, unexpired tokens of a principal and kind.
	CountActiveTokens(ctx context.Context, principalID string, kind TokenKind, now time.Time) (int, error)
	// ListRevokedSince lists ids and hashes of tokens revoked at or after since,
	// so nodes with a local cache can drop them.
	ListRevokedSince(ctx context.Context, since time.Time) ([][]byte, error)
	// PurgeTokens deletes tokens that expired (or were revoked) before before.
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
}

// ReplayStore is the shared replay cache: one atomic insert-if-absent.
type ReplayStore interface {
	// InsertReplayKey records key until expires and reports true if the key
	// was not present (or had expired), false if it is a replay.
	InsertReplayKey(ctx context.Context, key string, expires time.Time, now time.Time) (bool, error)
	PurgeReplayKeys(ctx context.Context, now time.Time) (int, error)
	// ScanReplayKeys calls fn for every key live at now; an error from fn
	// stops the scan and is returned.
	ScanReplayKeys(ctx context.Context, now time.Time, fn func(key string, expires time.Time) error) error
}

// AuditStore keeps the append-only audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, events ...AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PurgeAudit deletes up to limit events older than before, oldest
	// first, and returns how many it deleted.
	PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// DocumentStore keeps protocol-owned JSON records.
type DocumentStore interface {
	// PutDocument inserts a new document (Version 1); KindConflict if it exists.
	PutDocument(ctx context.Context, d Document) error
	GetDocument(ctx context.Context, collection, id string) (Document, error)
	// UpdateDocument replaces Data if the stored Version equals d.Version,
	// and returns the document with the new version; KindConflict otherwise.
	UpdateDocument(ctx context.Context, d Document) (Document, error)
	// ListDocuments lists a collection, newest first; orgID "" lists all organisations.
	ListDocuments(ctx context.Context, collection, orgID string, p Page) ([]Document, int, error)
	DeleteDocument(ctx context.Context, collection, id string) error
}

// GatewayRouteStore keeps the gateway routes created through the admin
// API and CLI (internal/gateway reads and validates their Spec).
type GatewayRouteStore interface {
	// CreateGatewayRoute inserts r; KindConflict if its name exists.
	CreateGatewayRoute(ctx context.Context, r GatewayRoute) error
	GetGatewayRoute(ctx context.Context, name string) (GatewayRoute, error)
	// ListGatewayRoutes lists every route by name, with the version of
	// the set it read (one consistent snapshot).
	ListGatewayRoutes(ctx context.Context) ([]GatewayRoute, int64, error)
	// DeleteGatewayRoute deletes the route; KindNotFound if there is none.
	DeleteGatewayRoute(ctx context.Context, name string) error
	// GatewayRoutesVersion is raised by every create and delete, so nodes
	// poll one row to learn that the set changed.
	GatewayRoutesVersion(ctx context.Context) (int64, error)
}

// GatewayRoute is one stored gateway route.
type GatewayRoute struct {
	Name      string
	Spec      []byte // the route's JSON
	CreatedAt time.Time
	CreatedBy string // the admin principal, or "cli"
}

// JobStore is a durable outbox of background work.
type JobStore interface {
	EnqueueJob(ctx context.Context, j Job) error
	// ClaimJobs leases up to limit due jobs of queue until now+lease; a job
	// is held by one claimer at a time, across nodes.
	ClaimJobs(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]Job, error)
	CompleteJob(ctx context.Context, id string, at time.Time) error
	// RetryJob releases the lease and schedules another attempt at runAt.
	RetryJob(ctx context.Context, id string, runAt time.Time, lastErr string) error
	// FailJob gives up on a job for good.
	FailJob(ctx context.Context, id string, at time.Time, lastErr string) error
	GetJob(ctx context.Context, id string) (Job, error)
	// CountJobs counts the unfinished jobs per queue and state
	// (JobPending, JobFailed); queues without any are left out.
	CountJobs(ctx context.Context) ([]JobCount, error)
	// ListJobs lists the jobs f selects, newest first, with their total.
	ListJobs(ctx context.Context, f JobFilter, p Page) ([]Job, int, error)
	// RequeueJob makes a failed job due again at runAt (its attempts and
	// last error kept); KindNotFound if there is no such job, KindConflict
	// if it has not failed.
	RequeueJob(ctx context.Context, id string, runAt time.Time) error
	// PurgeJobs deletes up to limit jobs of state (JobDone or JobFailed;
	// anything else is KindInvalidInput) that finished before before,
	// oldest first, in one statement. Pending and leased jobs are never
	// deleted.
	PurgeJobs(ctx context.Context, state string, before time.Time, limit int) (int, error)
}

// JobFilter selects jobs; zero fields match everything.
type JobFilter struct {
	Queues []string
	// State is JobPending (not finished, not failed), JobFailed or JobDone.
	State string
}

// Job states counted by JobStore.CountJobs.
const (
	JobPending = "pending" // waiting for its first or next attempt
	JobFailed  = "failed"  // given up (FailJob)
	JobDone    = "done"    // completed (CompleteJob)
)

// JobCount is the number of jobs of one queue in one state.
type JobCount struct {
	Queue, State string
	Jobs         int
}

// CounterStore keeps windowed counters shared by all nodes (rate limits, quotas).
type CounterStore interface {
	// AddToCounter adds delta to the counter key for the window that ends at
	// windowEnd and returns the new value. Counters of ended windows may be purged.
	AddToCounter(ctx context.Context, key string, windowEnd time.Time, delta int64) (int64, error)
	PurgeCounters(ctx context.Context, now time.Time) (int, error)
	// CounterValues reads the counter of each (key, window end) without
	// creating or changing any (an absent counter is 0); out[i] is refs[i].
	CounterValues(ctx context.Context, refs []CounterRef) ([]int64, error)
}

// CounterRef names one windowed counter.
type CounterRef struct {
	Key       string
	WindowEnd time.Time
}

// ReadCacher is implemented by stores that can keep the credentials and
// principals they read for at most maxAge (measured on clock), so the hot
// lookups of every request skip the database round trip. Writes through
// the same store make every entry stale at once; writes by other nodes are
// seen at the latest maxAge later. maxAge <= 0 turns it off.
type ReadCacher interface {
	CacheReads(maxAge time.Duration, clock Clock)
}

// KeyUse counts, for one master key id, the stored values that need it.
type KeyUse struct {
	KeyID string `json:"key_id"` // "" for values stored before key ids existed
	// SealedCredentials are credentials whose secret is sealed under the
	// key (revoked ones included: rotation re-seals them all).
	SealedCredentials int `json:"sealed_credentials"`
	// HashedCredentials are live credentials whose secret's keyed hash was
	// made under the key; they move on their next successful use.
	HashedCredentials int `json:"hashed_credentials"`
	// Tokens are live (unrevoked, unexpired) tokens hashed under the key;
	// they move on their next use.
	Tokens int `json:"tokens"`
}

// KeyUseStore answers what a master-key rotation needs to know.
type KeyUseStore interface {
	// CountKeyUse counts, per key id, sealed credentials and the live keyed
	// hashes of credentials and tokens at now.
	CountKeyUse(ctx context.Context, now time.Time) ([]KeyUse, error)
	// ListSealedCredentials lists credentials with a sealed secret whose key
	// id is not keyID, ordered by id, after afterID, at most limit.
	ListSealedCredentials(ctx context.Context, notKeyID, afterID string, limit int) ([]Credential, error)
}

// Store is everything a backend provides; wiring code uses it, consumers
// should ask for the narrow interface they need.
type Store interface {
	OrganisationStore
	PrincipalStore
	CredentialStore
	TokenStore
	ReplayStore
	AuditStore
	DocumentStore
	GatewayRouteStore
	JobStore
	CounterStore
	KeyUseStore
	Ping(ctx context.Context) error
	// CheckWritable performs one small real write (a health counter), so
	// readiness fails when the store answers reads but cannot write.
	CheckWritable(ctx context.Context) error
	Close() error
	// Dialect names the backend: "sqlite" or "postgres".
	Dialect() string
}
