package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Credentials creates and verifies credentials, applying the secret
// handling of each kind: bearer-only secrets are keyed-hashed, secrets a
// verifier must recompute with are sealed, public material is stored as is.
type Credentials struct {
	store CredentialStore
	keys  *Keyring
	clock Clock
}

// NewCredentials builds the credential service.
func NewCredentials(store CredentialStore, keys *Keyring, clock Clock) *Credentials {
	return &Credentials{store: store, keys: keys, clock: clock}
}

// CredentialSpec describes a credential to create. Lookup and Secret are
// generated with crypto/rand when empty (Secret only for kinds that have one).
type CredentialSpec struct {
	OrgID       string
	PrincipalID string
	Kind        CredentialKind
	Lookup      string
	Name        string
	Secret      string
	Public      []byte
	Meta        json.RawMessage
	ExpiresAt   *time.Time
}

// hasSecret reports whether kind carries a secret, and whether it is sealed.
func hasSecret(kind CredentialKind) (secret, sealed bool) {
	switch kind {
	case CredAccessKey, CredClientSecret, CredAPIKey:
		return true, false
	case CredAppToken, CredSigningKey, CredPassword, CredPSK:
		return true, true
	}
	return false, false
}

func secretPurpose(kind CredentialKind) string { return "secret:" + string(kind) }
func sealAAD(kind CredentialKind, lookup string) string {
	return "cred:" + string(kind) + ":" + lookup
}

// Create stores a new credential and returns it with the secret in clear,
// which the caller shows once and never stores.
func (s *Credentials) Create(ctx context.Context, spec CredentialSpec) (Credential, string, error) {
	if spec.PrincipalID == "" || spec.OrgID == "" {
		return Credential{}, "", E(KindInvalidInput, "credential needs an organisation and a principal")
	}
	if spec.Name != "" {
		if err := ValidName("credential name", spec.Name); err != nil {
			return Credential{}, "", err
		}
	}
	c := Credential{
		ID: NewID(), PrincipalID: spec.PrincipalID, OrgID: spec.OrgID, Kind: spec.Kind,
		Lookup: spec.Lookup, Name: spec.Name, Public: spec.Public, Meta: spec.Meta,
		CreatedAt: s.clock.Now(), ExpiresAt: spec.ExpiresAt,
	}
	if c.Lookup == "" {
		c.Lookup = RandomIdentifier(48)
	}
	secret := spec.Secret
	withSecret, sealed := hasSecret(spec.Kind)
	switch {
	case withSecret && secret == "":
		secret = RandomToken(48)
		fallthrough
	case withSecret:
		if sealed {
			b, err := s.keys.Seal([]byte(secret), sealAAD(c.Kind, c.Lookup))
			if err != nil {
				return Credential{}, "", Wrap(KindInternal, "", err)
			}
			c.Sealed, c.KeyID = b, SealedKeyID(b)
		} else {
			c.SecretHash, c.KeyID = s.keys.HashKeyed(secretPurpose(c.Kind), secret)
		}
	case spec.Kind == CredPublicKey || spec.Kind == CredCertificate:
		if len(spec.Public) == 0 {
			return Credential{}, "", E(KindInvalidInput, "public key or certificate required")
		}
		secret = ""
	default:
		return Credential{}, "", E(KindInvalidInput, "unknown credential kind "+string(spec.Kind))
	}
	if err := s.store.CreateCredential(ctx, c); err != nil {
		return Credential{}, "", err
	}
	return c, secret, nil
}

// Find returns the active credential of kind with the given lookup.
func (s *Credentials) Find(ctx context.Context, kind CredentialKind, lookup string) (Credential, error) {
	c, err := s.store.FindCredential(ctx, kind, lookup)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return Credential{}, E(KindUnauthenticated, "unknown credential")
		}
		return Credential{}, err
	}
	if c.RevokedAt != nil {
		return Credential{}, E(KindRevoked, "credential revoked")
	}
	if !c.Active(s.clock.Now()) {
		return Credential{}, E(KindExpired, "credential expired")
	}
	return c, nil
}

// VerifySecret authenticates lookup+secret for a credential kind with a
// secret. Unknown lookups and wrong secrets give the same error.
func (s *Credentials) VerifySecret(ctx context.Context, kind CredentialKind, lookup, secret string) (Credential, error) {
	c, err := s.Find(ctx, kind, lookup)
	if err != nil {
		if KindOf(err) == KindUnauthenticated {
			// Spend the same work as a real comparison so unknown keys are not distinguishable by time.
			s.keys.VerifyHash(secretPurpose(kind), secret, make([]byte, sha256.Size))
			return Credential{}, E(KindUnauthenticated, "invalid key or secret")
		}
		return Credential{}, err
	}
	ok := false
	switch {
	case len(c.SecretHash) > 0:
		ok = s.keys.VerifyHashUnder(c.KeyID, secretPurpose(kind), secret, c.SecretHash)
		if ok {
			s.rehash(ctx, c, secret)
		}
	case len(c.Sealed) > 0:
		plain, err := s.Open(c)
		if err != nil {
			return Credential{}, err
		}
		ok = ConstantTimeEqual(plain, []byte(secret))
	}
	if !ok {
		return Credential{}, E(KindUnauthenticated, "invalid key or secret")
	}
	return c, nil
}

// rehash moves a verified secret's keyed hash to the active master key
// when it was made under another one: a keyed hash cannot be recomputed
// without the secret, so this happens on the secret's next successful use.
// The update is conditional on the old key id (of two nodes, one writes);
// a failure leaves the old hash, which still verifies, for the next use.
func (s *Credentials) rehash(ctx context.Context, c Credential, secret string) {
	active := s.keys.ActiveKeyID()
	if s.keys.Resolve(c.KeyID) == active {
		return
	}
	h, id := s.keys.HashKeyed(secretPurpose(c.Kind), secret)
	if id != active {
		return // the active key changed meanwhile: the next use moves it
	}
	_, _ = s.store.UpdateCredentialSecret(ctx, c.ID, c.KeyID, h, nil, id)
}

// Reseal seals c's secret again under the active master key, if it was
// sealed under another; it reports whether it changed the credential.
func (s *Credentials) Reseal(ctx context.Context, c Credential) (bool, error) {
	if len(c.Sealed) == 0 || SealedKeyID(c.Sealed) == s.keys.ActiveKeyID() {
		return false, nil
	}
	plain, err := s.Open(c)
	if err != nil {
		return false, err
	}
	b, err := s.keys.Seal(plain, sealAAD(c.Kind, c.Lookup))
	if err != nil {
		return false, Wrap(KindInternal, "", err)
	}
	return s.store.UpdateCredentialSecret(ctx, c.ID, c.KeyID, nil, b, SealedKeyID(b))
}

// Open returns the sealed secret of c in clear, for HMAC verification.
func (s *Credentials) Open(c Credential) ([]byte, error) {
	if len(c.Sealed) == 0 {
		return nil, E(KindInternal, "credential has no sealed secret")
	}
	b, err := s.keys.Open(c.Sealed, sealAAD(c.Kind, c.Lookup))
	if err != nil {
		return nil, Wrap(KindInternal, "", err)
	}
	return b, nil
}

// Tokens issues and checks opaque tokens. Only keyed hashes are stored.
// Kinds opted in with EnableCache are looked up through an in-memory cache
// (see tokencache.go for its freshness bound).
type Tokens struct {
	store   TokenStore
	keys    *Keyring
	clock   Clock
	cache   *tokenCache
	cacheMu sync.Mutex      // serialises EnableCache
	group   *groupCommitter // nil when the store cannot write batches
	observed
}

// NewTokens builds the token service.
func NewTokens(store TokenStore, keys *Keyring, clock Clock) *Tokens {
	t := &Tokens{store: store, keys: keys, clock: clock, cache: newTokenCache()}
	if bw, ok := store.(BatchWriter); ok {
		t.group = newGroupCommitter(bw)
	}
	return t
}

// TokenSpec describes a token to issue.
type TokenSpec struct {
	Kind         TokenKind
	OrgID        string
	PrincipalID  string
	CredentialID string
	FamilyID     string // "" starts a new family
	ParentID     string
	Scope        string
	Binding      string
	TTL          time.Duration // 0: never expires
	RenewableFor time.Duration // 0: not renewable
	Value        string        // "" generates 32 random bytes, base64url
	Meta         json.RawMessage
	// PrincipalKind is recorded with the token (see Token.PrincipalKind).
	PrincipalKind PrincipalKind
	// CertThumbprint binds the token to a client certificate (RFC 8705).
	CertThumbprint string
}

const tokenPurpose = "token"

// HashToken returns the stored form of a token value (under the active
// master key).
func (s *Tokens) HashToken(value string) []byte { return s.keys.Hash(tokenPurpose, value) }

// Find returns the stored token with the given value, whatever its kind
// and state. During a master-key rotation a token hashed under a previous
// key is found too, and its hash is moved to the active key (the value is
// needed to recompute it, so this happens on the token's next use).
func (s *Tokens) Find(ctx context.Context, value string) (Token, error) {
	hash, active := s.keys.HashKeyed(tokenPurpose, value)
	t, err := s.store.GetTokenByHash(ctx, hash)
	if err == nil || KindOf(err) != KindNotFound {
		return t, err
	}
	others := s.keys.OthersThan(active) // the keys this lookup did not hash under
	for _, id := range others {
		old, ok := s.keys.HashUnder(id, tokenPurpose, value)
		if !ok {
			continue
		}
		t, err := s.store.GetTokenByHash(ctx, old)
		if KindOf(err) == KindNotFound {
			continue
		}
		if err != nil {
			return Token{}, err
		}
		if s.keys.Resolve(t.KeyID) != id {
			continue // a hash under one key never stands for a token stored under another
		}
		// Moved to the key active now, which is not the one hashed under
		// first when this node followed a rotation meanwhile (then the
		// token may already be under it).
		cur, curID := s.keys.HashKeyed(tokenPurpose, value)
		if curID == id {
			return t, nil
		}
		if moved, err := s.store.RehashToken(ctx, t.ID, old, cur, curID); err == nil && moved {
			t.Hash, t.KeyID = cur, curID
		}
		return t, nil
	}
	if len(others) > 0 {
		// Missed under every key: another node may have moved the token
		// between the first lookup and the previous keys' (a move is one
		// atomic update), so the active key's hash is asked once more.
		return s.store.GetTokenByHash(ctx, hash)
	}
	return Token{}, err
}

// Issue creates a token and returns its value in clear (shown once).
func (s *Tokens) Issue(ctx context.Context, spec TokenSpec) (string, Token, error) {
	value, t := s.NewToken(spec)
	epoch := s.cache.epoch.Load()
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", Token{}, err
	}
	if _, ok := s.cache.maxAge(t.Kind); ok {
		s.cache.put(t, t.IssuedAt, epoch)
	}
	s.observer().TokensIssued(t.Kind, 1)
	return value, t, nil
}

// NewToken builds a token from spec without storing it; Commit stores it.
// It returns the value in clear (shown once) and the token to store.
func (s *Tokens) NewToken(spec TokenSpec) (string, Token) {
	now := s.clock.Now()
	value := spec.Value
	if value == "" {
		value = RandomToken(32)
	}
	t := Token{
		ID: NewSortableID(now), Kind: spec.Kind, OrgID: spec.OrgID,
		PrincipalID: spec.PrincipalID, PrincipalKind: spec.PrincipalKind, CredentialID: spec.CredentialID, FamilyID: spec.FamilyID,
		ParentID: spec.ParentID, Scope: spec.Scope, Binding: spec.Binding, CertThumbprint: spec.CertThumbprint, IssuedAt: now, Meta: spec.Meta,
	}
	t.Hash, t.KeyID = s.keys.HashKeyed(tokenPurpose, value)
	if t.FamilyID == "" {
		t.FamilyID = t.ID
	}
	if spec.TTL > 0 {
		exp := now.Add(spec.TTL)
		t.ExpiresAt = &exp
	}
	if spec.RenewableFor > 0 {
		until := now.Add(spec.RenewableFor)
		t.RenewableUntil = &until
	}
	return value, t
}

// Commit stores tokens made by NewToken together with the audit events
// recording their issue, and returns once they are committed: a token the
// caller then hands out is durable as the store defines it. Where the store
// is a BatchWriter the tokens and events of one call are committed
// atomically, and concurrent calls share one transaction (group commit).
func (s *Tokens) Commit(ctx context.Context, tokens []Token, events []AuditEvent) error {
	now := s.clock.Now()
	for i := range events {
		if events[i].At.IsZero() {
			events[i].At = now
		}
		if events[i].Outcome == "" {
			events[i].Outcome = OutcomeSuccess
		}
	}
	epoch := s.cache.epoch.Load()
	if s.group != nil {
		if err := s.group.write(tokens, events); err != nil {
			return err
		}
	} else {
		for _, t := range tokens {
			if err := s.store.CreateToken(ctx, t); err != nil {
				return err
			}
		}
		if as, ok := s.store.(AuditStore); ok && len(events) > 0 {
			if err := as.AppendAudit(ctx, events...); err != nil {
				return err
			}
		} else if len(events) > 0 {
			return E(KindInternal, "token store cannot record audit events")
		}
	}
	for _, t := range tokens {
		if _, ok := s.cache.maxAge(t.Kind); ok {
			s.cache.put(t, now, epoch)
		}
		s.observer().TokensIssued(t.Kind, 1)
	}
	return nil
}

// Lookup finds the token with the given value and checks that it is of
// kind, unrevoked and unexpired. Errors are typed: Unauthenticated for an
// unknown value or wrong kind, Revoked, Expired.
func (s *Tokens) Lookup(ctx context.Context, kind TokenKind, value string) (Token, error) {
	var read Token
	t, err := s.lookup(ctx, kind, value, &read)
	if t == nil {
		return Token{}, err
	}
	return *t, err
}

// LookupShared is Lookup without copying the token out of the token
// cache: the token returned (with a nil error, or with Revoked or
// Expired) may be the cache's entry, shared by every lookup that finds
// it there, and must not be modified.
func (s *Tokens) LookupShared(ctx context.Context, kind TokenKind, value string) (*Token, error) {
	return s.lookup(ctx, kind, value, nil)
}

// lookup is Lookup's check. The token it returns is the cache's entry or,
// when the store had to be read and the token is not cached, *read (a new
// one when read is nil).
func (s *Tokens) lookup(ctx context.Context, kind TokenKind, value string, read *Token) (*Token, error) {
	if value == "" || len(value) > 4096 {
		return nil, E(KindUnauthenticated, "invalid token")
	}
	now := s.clock.Now()
	maxAge, cached := s.cache.maxAge(kind)
	var t *Token
	if cached {
		hash := s.keys.hashArray(tokenPurpose, value)
		t = s.cache.get(hash[:], now, maxAge)
	}
	if t == nil {
		epoch := s.cache.epoch.Load()
		found, err := s.Find(ctx, value)
		if err != nil {
			if KindOf(err) == KindNotFound {
				return nil, E(KindUnauthenticated, "invalid token")
			}
			return nil, err
		}
		if _, ok := s.cache.maxAge(found.Kind); ok {
			t = s.cache.put(found, now, epoch)
		}
		if t == nil {
			if read == nil {
				read = new(Token)
			}
			*read = found
			t = read
		}
	}
	if t.Kind != kind {
		return nil, E(KindUnauthenticated, "invalid token")
	}
	if t.RevokedAt != nil {
		return t, E(KindRevoked, "token revoked")
	}
	if t.ExpiredAt(now) {
		return t, E(KindExpired, "token expired")
	}
	return t, nil
}

// Revoke revokes one token. Cached lookups on this node see it at once.
func (s *Tokens) Revoke(ctx context.Context, id string) error {
	err := s.store.RevokeToken(ctx, id, s.clock.Now())
	s.cache.invalidate()
	if err == nil {
		s.observer().TokensRevoked(1)
	}
	return err
}

// RevokeFamily revokes every token descended from the same original grant.
func (s *Tokens) RevokeFamily(ctx context.Context, familyID string) (int, error) {
	n, err := s.store.RevokeTokenFamily(ctx, familyID, s.clock.Now())
	s.cache.invalidate()
	s.observer().TokensRevoked(n)
	return n, err
}

// Store exposes the token store for adapters that need rotation primitives.
func (s *Tokens) Store() TokenStore { return s.store }

// Auditor appends to the audit log and mirrors failures to the structured log.
type Auditor struct {
	store AuditStore
	clock Clock
	log   *slog.Logger
}

// NewAuditor builds the audit service.
func NewAuditor(store AuditStore, clock Clock, log *slog.Logger) *Auditor {
	return &Auditor{store: store, clock: clock, log: log}
}

// Record appends e (At defaults to now). The caller decides whether a
// failure to audit fails the request; issuing paths must treat it as fatal.
func (a *Auditor) Record(ctx context.Context, e AuditEvent) error {
	if e.At.IsZero() {
		e.At = a.clock.Now()
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	// Subjects and reasons carry caller input (a username as sent, a parse
	// error quoting the request): bounded and escaped here, once for every
	// adapter, before they reach the log or the store.
	if e.Outcome == OutcomeFailure {
		e.Subject = LogSafe(e.Subject, MaxLoggedFailedSubject)
	} else {
		e.Subject = LogSafe(e.Subject, MaxLoggedSubject)
	}
	e.Reason = LogSafe(e.Reason, MaxLoggedReason)
	if e.Outcome == OutcomeFailure {
		a.log.LogAttrs(ctx, slog.LevelInfo, "auth event",
			slog.String("action", e.Action), slog.String("protocol", e.Protocol),
			slog.String("subject", e.Subject), slog.String("reason", e.Reason),
			slog.String("remote", e.RemoteAddr), slog.String("request_id", e.RequestID))
	}
	if err := a.store.AppendAudit(ctx, e); err != nil {
		a.log.Error("audit append failed", slog.String("action", e.Action), slog.Any("err", err))
		return err
	}
	return nil
}

// List returns audit events.
func (a *Auditor) List(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	return a.store.ListAudit(ctx, f)
}

// Replay is the replay cache: every (namespace, key) pair is accepted once
// until it expires. In database mode (NewReplay) the store decides, across
// all nodes sharing it; in memory mode (OpenMemoryReplay) this process
// decides and writes behind to the store.
type Replay struct {
	store ReplayStore
	clock Clock
	group *replayGroup  // nil when the store cannot batch
	mem   *memoryReplay // nil in database mode
	// fence: per namespace, messages expiring no later are refused, after
	// an unclean stop of a memory-mode run; set once at start-up.
	fence map[string]time.Time
	observed
}

// NewReplay builds the replay cache in database mode. Stores that can batch
// inserts get concurrent inserts grouped into one transaction.
func NewReplay(store ReplayStore, clock Clock) *Replay {
	r := &Replay{store: store, clock: clock}
	if b, ok := store.(ReplayBatcher); ok {
		r.group = newReplayGroup(b, clock)
	}
	return r
}

// Remember records (namespace, key) until expires. It returns nil the first
// time and a KindReplayed error for every later use before expiry.
func (r *Replay) Remember(ctx context.Context, namespace, key string, expires time.Time) error {
	if f, ok := r.fence[namespace]; ok && !expires.After(f) {
		return errFenced(namespace)
	}
	sum := sha256.Sum256([]byte(key))
	k := namespace + ":" + hex.EncodeToString(sum[:])
	var fresh bool
	var err error
	if r.mem != nil {
		fresh, err = r.mem.remember(ctx, namespace, k, expires)
	} else {
		fresh, err = r.insert(ctx, k, expires)
	}
	if err != nil {
		return err
	}
	if !fresh {
		r.observer().ReplayRefused(namespace)
		return E(KindReplayed, namespace+" already used")
	}
	return nil
}

// insert is the store's insert-if-absent, grouped when the store batches.
func (r *Replay) insert(ctx context.Context, k string, expires time.Time) (bool, error) {
	if r.group != nil {
		return r.group.insert(ReplayEntry{Key: k, Expires: expires})
	}
	return r.store.InsertReplayKey(ctx, k, expires, r.clock.Now())
}

// ConstantTimeEqual compares two byte strings without leaking where they differ.
func ConstantTimeEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Services bundles the core services wired at start-up. Adapters receive it
// explicitly (never through a context) and use the fields they need.
type Services struct {
	Clock       Clock
	Log         *slog.Logger
	Store       Store
	Keys        *Keyring
	Credentials *Credentials
	Tokens      *Tokens
	Replay      *Replay
	Audit       *Auditor
	// Guard limits failed authentications for every adapter and secret.
	Guard *Guard
	// Authz is the privilege check (privilege.go) every management
	// route calls after authentication.
	Authz *Authorizer
	// Alone is set when this process is the only node on its store (the
	// replay cache in memory): services may then decide in memory what
	// would otherwise need a store round trip to see other nodes' work.
	Alone bool
	// Observer receives what operators count (SetObserver); nil observes nothing.
	Observer Observer
	// Tracer starts the spans of signature checks and other work worth a
	// span; nil (the default, tracing off) makes none, and costs nothing
	// on the request path.
	Tracer trace.Tracer
}

// NewServices builds every core service over one store.
func NewServices(st Store, keys *Keyring, clock Clock, log *slog.Logger) Services {
	audit := NewAuditor(st, clock, log)
	return Services{
		Clock: clock, Log: log, Store: st, Keys: keys,
		Credentials: NewCredentials(st, keys, clock),
		Tokens:      NewTokens(st, keys, clock),
		Replay:      NewReplay(st, clock),
		Audit:       audit,
		Authz:       NewAuthorizer(audit),
		Guard:       NewGuard(st, clock, DefaultGuardLimits()),
	}
}
