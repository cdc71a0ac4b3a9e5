package core

import (
	"encoding/json"
	"time"
)

// Organisation is the tenant every principal belongs to.
type Organisation struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// PrincipalKind says what a principal is.
type PrincipalKind string

// Principal kinds shared by the protocol families.
const (
	PrincipalAdmin       PrincipalKind = "admin"       // may create organisations
	PrincipalOwner       PrincipalKind = "owner"       // account owner (Apstrata)
	PrincipalUser        PrincipalKind = "user"        // human user or access-key holder
	PrincipalDevice      PrincipalKind = "device"      // IoT device
	PrincipalApplication PrincipalKind = "application" // brand / OAuth client / TAAP client
	PrincipalPartner     PrincipalKind = "partner"     // M2M partner system
)

// Valid reports whether k is a known principal kind.
func (k PrincipalKind) Valid() bool {
	switch k {
	case PrincipalAdmin, PrincipalOwner, PrincipalUser, PrincipalDevice, PrincipalApplication, PrincipalPartner:
		return true
	}
	return false
}

// Principal is anything that authenticates: a person, device, application or partner.
type Principal struct {
	ID        string
	OrgID     string
	Kind      PrincipalKind
	Name      string // unique per organisation and kind (login, device id, brand name)
	Disabled  bool
	CreatedAt time.Time
}

// CredentialKind says how a credential is verified.
type CredentialKind string

// Credential kinds. Secret handling per kind is fixed by NewCredential:
// bearer-only secrets are keyed-hashed, recomputed HMAC keys are sealed,
// human passwords use argon2id.
const (
	CredAccessKey    CredentialKind = "access_key"    // device-server key + secret (bearer-only)
	CredClientSecret CredentialKind = "client_secret" // OAuth/TAAP client id + secret (bearer-only)
	CredAppToken     CredentialKind = "app_token"     // TPV application token + secret (HMAC key: sealed)
	CredSigningKey   CredentialKind = "signing_key"   // Apstrata owner authKey + secret (HMAC key: sealed)
	CredPassword     CredentialKind = "password"      // user/device password (sealed: protocols hash it)
	CredPublicKey    CredentialKind = "public_key"    // PEM or JWK public key (no secret)
	CredCertificate  CredentialKind = "certificate"   // X.509 certificate (no secret)
	CredAPIKey       CredentialKind = "api_key"       // M2MApiKey and similar (bearer-only)
	CredPSK          CredentialKind = "psk"           // DTLS pre-shared key (the verifier recomputes with it: sealed)
)

// Credential is one way a principal proves who it is. Lookup is the public
// identifier (key, app token, client id, login, certificate fingerprint) and
// is unique per kind.
type Credential struct {
	ID          string
	PrincipalID string
	OrgID       string
	Kind        CredentialKind
	Lookup      string
	Name        string
	SecretHash  []byte // keyed hash of a bearer-only secret
	Sealed      []byte // AES-256-GCM sealed secret that verifiers must recompute with
	// KeyID names the master key SecretHash or Sealed was made under; ""
	// for values stored before key ids existed (the original key).
	KeyID     string
	Public    []byte // public key, JWK or certificate (not secret)
	Meta      json.RawMessage
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// Active reports whether the credential may be used at now.
func (c Credential) Active(now time.Time) bool {
	if c.RevokedAt != nil {
		return false
	}
	return c.ExpiresAt == nil || now.Before(*c.ExpiresAt)
}

// TokenKind distinguishes token uses; a token of one kind is never accepted as another.
type TokenKind string

// Token kinds issued by the protocol families.
const (
	TokenAccess      TokenKind = "access"   // OAuth2 bearer access token
	TokenRefresh     TokenKind = "refresh"  // OAuth2 refresh token
	TokenTPVAuth     TokenKind = "tpv_auth" // TPV Hub auth_token
	TokenApstrata    TokenKind = "apstrata" // Apstrata apsdb.authToken
	TokenTAAP        TokenKind = "taap_access"
	TokenTAAPRefresh TokenKind = "taap_refresh" // TAAP refresh token (never an OAuth2 one)
)

// Token is an issued opaque token. Only the keyed hash of its value is stored.
type Token struct {
	ID             string // unique token id (jti)
	Hash           []byte
	Kind           TokenKind
	OrgID          string
	PrincipalID    string
	CredentialID   string // credential the token was issued on the strength of (revoked with it)
	FamilyID       string // refresh-rotation family; equals ID for the first token
	ParentID       string // token this one was rotated/renewed from
	Scope          string
	Binding        string // bound referrer, key thumbprint or similar; "" if unbound
	IssuedAt       time.Time
	ExpiresAt      *time.Time // nil: eternal (Apstrata device tokens)
	RenewableUntil *time.Time // nil: not renewable past ExpiresAt, or eternal
	RotatedAt      *time.Time // set when a refresh token was exchanged / token renewed
	RevokedAt      *time.Time
	Meta           json.RawMessage
	// PrincipalKind is the holder's kind, recorded at issue so privilege
	// checks need no principal read; "" for tokens issued before it was
	// recorded (checks then read the principal).
	PrincipalKind PrincipalKind
	// CertThumbprint is the RFC 8705 confirmation (cnf "x5t#S256"): the
	// base64url SHA-256 of the DER client certificate the token is bound
	// to. A bound token is accepted only on a TLS connection presenting
	// that certificate. "" for unbound tokens.
	CertThumbprint string
	// KeyID names the master key Hash was made under ("": the original key).
	KeyID string
}

// ExpiredAt reports whether the token has expired at now.
func (t Token) ExpiredAt(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// AuditEvent is one line of the audit log. Its JSON form (snake_case, as
// every admin output) is what `authgate admin audit` and GET /admin/audit print.
type AuditEvent struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Action      string    `json:"action"`   // issue, renew, revoke, auth_failure, create, delete, ...
	Protocol    string    `json:"protocol"` // oauth2, tpv, apstrata, taap, m2m, admin, core
	OrgID       string    `json:"org_id,omitempty"`
	PrincipalID string    `json:"principal_id,omitempty"`
	Subject     string    `json:"subject,omitempty"` // public identifier involved (key, login, jti); never a secret
	Outcome     string    `json:"result"`            // success or failure
	Reason      string    `json:"reason,omitempty"`
	RemoteAddr  string    `json:"remote_addr,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
}

// Audit actions and outcomes used across adapters.
const (
	AuditIssue       = "issue"
	AuditRenew       = "renew"
	AuditRevoke      = "revoke"
	AuditAuthFailure = "auth_failure"
	AuditCreate      = "create"
	AuditUpdate      = "update"
	AuditDelete      = "delete"

	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditFilter selects audit events; zero fields match everything. Events
// come newest first; BeforeID pages on: the next page of a listing is the
// same filter with BeforeID set to the last event's ID.
type AuditFilter struct {
	OrgID       string
	PrincipalID string
	Action      string
	Protocol    string
	Outcome     string    // success or failure
	Since       time.Time // at or after
	Until       time.Time // strictly before
	BeforeID    int64     // only events with a smaller ID (the paging cursor)
	Limit       int
}

// Document is a protocol-owned record kept by the core store as JSON:
// TPV sales records, SIM records, subscriptions and similar. Version is
// incremented on every update for optimistic concurrency.
type Document struct {
	Collection string
	ID         string
	OrgID      string
	Data       json.RawMessage
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Job is a durable unit of background work (outbox), leased by one node at a time.
type Job struct {
	ID          string
	Queue       string
	Payload     json.RawMessage
	RunAt       time.Time
	Attempts    int
	LockedUntil *time.Time
	LastError   string
	DoneAt      *time.Time
	FailedAt    *time.Time
	CreatedAt   time.Time
}

// Page selects a slice of a listing.
type Page struct {
	Offset int
	Limit  int
}
