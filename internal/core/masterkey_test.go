package core_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

func masterKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// holder is a principal with an access key (keyed hash), an app token
// (sealed) and an access token, all made under whatever key was active.
type holder struct {
	org                   core.Organisation
	key, keySecret        string
	app, appSecret, token string
}

func newHolder(t *testing.T, svc core.Services, name string) holder {
	t.Helper()
	ctx := context.Background()
	org, err := svc.CreateOrganisation(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "u")
	if err != nil {
		t.Fatal(err)
	}
	h := holder{org: org}
	c, s, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	h.key, h.keySecret = c.Lookup, s
	c, s, err = svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAppToken})
	if err != nil {
		t.Fatal(err)
	}
	h.app, h.appSecret = c.Lookup, s
	h.token, _, err = svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: org.ID, PrincipalID: p.ID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// use authenticates with every value of h on svc.
func (h holder) use(t *testing.T, svc core.Services) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Credentials.VerifySecret(ctx, core.CredAccessKey, h.key, h.keySecret); err != nil {
		t.Fatalf("access key: %v", err)
	}
	c, err := svc.Credentials.Find(ctx, core.CredAppToken, h.app)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Credentials.Open(c); err != nil || string(got) != h.appSecret {
		t.Fatalf("app secret: %v", err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, h.token); err != nil {
		t.Fatalf("token: %v", err)
	}
}

func keyUse(st core.KeyStatus, id string) core.KeyReport {
	for _, r := range st.Keys {
		if r.KeyID == id {
			return r
		}
	}
	return core.KeyReport{}
}

// TestMasterKeyRotation: a node knowing the new and the old key follows
// the database (old key active) until the rotation; the rotation re-seals
// sealed secrets at once, keyed hashes move on their next use, status
// counts what still needs the old key, retirement is refused until
// nothing does, and a node knowing only the old key is refused afterwards.
func TestMasterKeyRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authgate.db")
	oldKey, newKey := masterKey(t), masterKey(t)
	oldID, newID := core.KeyID(oldKey), core.KeyID(newKey)
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, a, "acme")

	b, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	if b.Keys.ActiveKeyID() != oldID {
		t.Fatalf("before the rotation the database's key must stay active, got %s", b.Keys.ActiveKeyID())
	}
	h.use(t, b)
	res, err := b.RotateMasterKey(ctx, core.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Active != newID || res.Previous != oldID || res.ResealedCredentials != 1 || b.Keys.ActiveKeyID() != newID {
		t.Fatalf("rotation = %+v", res)
	}
	if r := keyUse(res.Status, oldID); r.SealedCredentials != 0 || r.HashedCredentials != 1 || r.Tokens != 1 || res.Status.NeedPrevious != 2 {
		t.Fatalf("status after the rotation: %+v", res.Status)
	}
	if _, err := b.RetireMasterKey(ctx, oldID, nil, 0); core.KindOf(err) != core.KindConflict || !strings.Contains(err.Error(), "still needed by 2 values") {
		t.Fatalf("retire while needed: %v", err)
	}
	if _, err := b.RetireMasterKey(ctx, newID, nil, 0); core.KindOf(err) != core.KindConflict || !strings.Contains(err.Error(), "active key") {
		t.Fatalf("retire the active key: %v", err)
	}
	// Rotating again is a no-op that finishes an interrupted run.
	if res, err := b.RotateMasterKey(ctx, core.RotateOptions{}); err != nil || res.ResealedCredentials != 0 {
		t.Fatalf("second rotation: %+v %v", res, err)
	}

	h.use(t, b) // moves the access key's hash and the token's hash
	h.use(t, b) // and they verify under the new key
	st, err := b.MasterKeyStatus(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.NeedPrevious != 0 || keyUse(st, newID).Total != 3 {
		t.Fatalf("status after use: %+v", st)
	}
	if st, err = b.RetireMasterKey(ctx, oldID, nil, 0); err != nil || !slices.Contains(st.Retired, oldID) {
		t.Fatalf("retire: %+v %v", st, err)
	}
	h.use(t, b)

	// The old-only node cannot follow, and does not start any more.
	if err := a.RefreshKeyring(ctx); err == nil || !strings.Contains(err.Error(), "differs from the database's active master key") {
		t.Fatalf("old-only node followed the new key: %v", err)
	}
	c, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := c.CheckKeyring(ctx); err == nil {
		t.Fatal("a node with only the retired key started")
	}
	// A node that kept the retired key configured still works, with the new one.
	d, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	h.use(t, d)
	if len(d.Keys.Fallbacks()) != 0 {
		t.Fatalf("retired key still tried: %v", d.Keys.Fallbacks())
	}
}

// TestMasterKeyRotationFollowed: a node watching the keyring switches to
// the new key when a rotation runs elsewhere, and seals under it.
func TestMasterKeyRotationFollowed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "authgate.db")
	oldKey, newKey := masterKey(t), masterKey(t)
	opts := agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}}
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	watcher, _ := agtest.NewServices(t, opts)
	done := make(chan error, 1)
	go func() { done <- watcher.WatchKeyring(ctx, "watcher", 20*time.Millisecond) }()
	rotator, _ := agtest.NewServices(t, opts)
	if _, err := rotator.RotateMasterKey(ctx, core.RotateOptions{Settle: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for i := 0; watcher.Keys.ActiveKeyID() != core.KeyID(newKey); i++ {
		if i == 500 {
			t.Fatal("the watching node did not follow the rotation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sealed, err := watcher.Keys.Seal([]byte("x"), "aad")
	if err != nil || core.SealedKeyID(sealed) != core.KeyID(newKey) {
		t.Fatalf("sealed under %s, %v", core.SealedKeyID(sealed), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAttack_KeyedHashOfOneOrgUnderOldKey: during a rotation a secret hash
// made under the old key verifies for its own credential only — another
// organisation's key with this secret is refused and keeps its own hash
// untouched — and a token value finds only its own token.
func TestAttack_KeyedHashOfOneOrgUnderOldKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authgate.db")
	oldKey, newKey := masterKey(t), masterKey(t)
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	one, two := newHolder(t, a, "one"), newHolder(t, a, "two")
	b, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	if _, err := b.RotateMasterKey(ctx, core.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, try := range []struct{ key, secret string }{{two.key, one.keySecret}, {one.key, two.keySecret}, {two.key, ""}} {
		if _, err := b.Credentials.VerifySecret(ctx, core.CredAccessKey, try.key, try.secret); core.KindOf(err) != core.KindUnauthenticated {
			t.Fatalf("key %s with another organisation's secret: %v", try.key, err)
		}
	}
	c, err := b.Store.FindCredential(ctx, core.CredAccessKey, two.key)
	if err != nil || c.KeyID != core.KeyID(oldKey) {
		t.Fatalf("a refused attempt moved the hash: %+v %v", c, err)
	}
	tok, err := b.Tokens.Lookup(ctx, core.TokenAccess, one.token)
	if err != nil || tok.OrgID != one.org.ID {
		t.Fatalf("token of org one: %+v %v", tok, err)
	}
	if _, err := b.Tokens.Lookup(ctx, core.TokenAccess, one.token+"x"); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("altered token value: %v", err)
	}
	one.use(t, b)
	two.use(t, b)
}

// TestAttack_RotateRefusals: a rotation is refused while a running node
// does not know the new key (it could not open what the others seal), and
// to a retired key (the operator swapped the files).
func TestAttack_RotateRefusals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "authgate.db")
	oldKey, newKey := masterKey(t), masterKey(t)
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.WatchKeyring(wctx, "old-only-node", time.Hour) }()
	b, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	for i := 0; ; i++ { // wait for the node to publish its keys
		if docs, _, _ := b.Store.ListDocuments(ctx, "system.keyring-nodes", "", core.Page{Limit: 10}); len(docs) == 1 {
			break
		}
		if i == 500 {
			t.Fatal("the node did not publish its keys")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := b.RotateMasterKey(ctx, core.RotateOptions{NodeMaxAge: time.Hour})
	if core.KindOf(err) != core.KindConflict || !strings.Contains(err.Error(), "old-only-node") {
		t.Fatalf("rotation with a node lacking the key: %v", err)
	}
	if b.Keys.ActiveKeyID() != core.KeyID(oldKey) {
		t.Fatal("a refused rotation switched the key")
	}
	stop()
	<-done // the stopped node withdraws its record
	if _, err := b.RotateMasterKey(ctx, core.RotateOptions{NodeMaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RetireMasterKey(ctx, core.KeyID(oldKey), nil, 0); err != nil {
		t.Fatal(err)
	}
	swapped, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey, PreviousMasterKeys: [][]byte{newKey}})
	if _, err := swapped.RotateMasterKey(ctx, core.RotateOptions{}); core.KindOf(err) != core.KindInvalidInput || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("rotation to a retired key: %v", err)
	}
}

// TestMasterKeyRotationResealsSigningKeys: JWT signing keys (TAAP ID tokens, gateway
// identities) sealed under the old key are re-sealed by the rotation, so
// a node started after the old key's retirement still signs with them.
func TestMasterKeyRotationResealsSigningKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authgate.db")
	oldKey, newKey := masterKey(t), masterKey(t)
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := func(svc core.Services) core.SigningKeysConfig {
		return core.SigningKeysConfig{Docs: svc.Store, Seal: svc.Keys, Clock: svc.Clock, Collection: "test.system", ID: "keys",
			Purpose: "test.key", Alg: "ES256", Rotation: 24 * time.Hour, Keep: time.Hour}
	}
	before, err := core.NewSigningKeys(cfg(a)).Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	set := core.NewSigningKeys(cfg(b)).Sealed("test_keys", b.Keys)
	if counts, err := set.CountSealed(ctx); err != nil || counts[core.KeyID(oldKey)] != 1 {
		t.Fatalf("sealed before: %v %v", counts, err)
	}
	res, err := b.RotateMasterKey(ctx, core.RotateOptions{Sets: []core.SealedSet{set}})
	if err != nil || res.Resealed["test_keys"] != 1 || keyUse(res.Status, core.KeyID(oldKey)).Total != 0 {
		t.Fatalf("rotation: %+v %v", res, err)
	}
	if _, err := b.RetireMasterKey(ctx, core.KeyID(oldKey), []core.SealedSet{set}, 0); err != nil {
		t.Fatal(err)
	}
	c, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	after, err := core.NewSigningKeys(cfg(c)).Signer(ctx)
	if err != nil || after.Kid != before.Kid {
		t.Fatalf("signing key after the retirement: %v %v", after, err)
	}
}

// movingStore moves the token to the active key's hash (as another node
// would) right after the first lookup by hash misses.
type movingStore struct {
	core.Store
	once  sync.Once
	move  func()
	calls int
}

func (m *movingStore) GetTokenByHash(ctx context.Context, hash []byte) (core.Token, error) {
	m.calls++
	t, err := m.Store.GetTokenByHash(ctx, hash)
	if core.KindOf(err) == core.KindNotFound {
		m.once.Do(m.move)
	}
	return t, err
}

// holderUnderOldKey makes a holder (its access token hashed under oldKey)
// on a node with only oldKey, on the SQLite database at path, then runs
// before (nodes to start before the rotation; nil for none).
func holderUnderOldKey(t *testing.T, path string, oldKey []byte, before func()) holder {
	t.Helper()
	a, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, a, "acme")
	if before != nil {
		before()
	}
	return h
}

// rotateTo starts a node knowing newKey and oldKey on path and rotates
// the database to newKey from it.
func rotateTo(t *testing.T, path string, newKey, oldKey []byte) core.Services {
	t.Helper()
	b, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	if _, err := b.RotateMasterKey(context.Background(), core.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTokenMovedByAnotherNodeMeanwhile: a token whose hash another node
// moves to the new key between this node's lookup under the new key and
// its lookup under the old one is still found.
func TestTokenMovedByAnotherNodeMeanwhile(t *testing.T) {
	ctx := context.Background()
	path, oldKey, newKey := filepath.Join(t.TempDir(), "authgate.db"), masterKey(t), masterKey(t)
	h := holderUnderOldKey(t, path, oldKey, nil)
	b := rotateTo(t, path, newKey, oldKey)
	other, _ := agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	ms := &movingStore{Store: b.Store}
	ms.move = func() {
		if _, err := other.Tokens.Find(ctx, h.token); err != nil {
			t.Errorf("the other node: %v", err)
		}
	}
	tokens := core.NewTokens(ms, b.Keys, b.Clock)
	tok, err := tokens.Find(ctx, h.token)
	if err != nil || tok.KeyID != core.KeyID(newKey) || ms.calls != 3 {
		t.Fatalf("Find = %+v, %v after %d lookups", tok, err, ms.calls)
	}
}

// BenchmarkRotateMasterKey measures re-sealing: b.N sealed credentials
// made under the old key, re-sealed by one rotation (SQLite).
func BenchmarkRotateMasterKey(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "authgate.db")
	oldKey, newKey := make([]byte, core.MasterKeySize), make([]byte, core.MasterKeySize)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	a, _ := agtest.NewServices(b, agtest.Options{SQLitePath: path, MasterKey: oldKey})
	if err := a.CheckKeyring(ctx); err != nil {
		b.Fatal(err)
	}
	org, _ := a.CreateOrganisation(ctx, "bench")
	p, _ := a.CreatePrincipal(ctx, org.ID, core.PrincipalApplication, "app")
	for i := 0; i < b.N; i++ {
		if _, _, err := a.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAppToken}); err != nil {
			b.Fatal(err)
		}
	}
	s, _ := agtest.NewServices(b, agtest.Options{SQLitePath: path, MasterKey: newKey, PreviousMasterKeys: [][]byte{oldKey}})
	b.ResetTimer()
	res, err := s.RotateMasterKey(ctx, core.RotateOptions{})
	if err != nil || res.ResealedCredentials != b.N {
		b.Fatalf("%+v %v", res, err)
	}
}

// TestTokenLookupWhileThisNodeFollowsTheRotation: a node that follows a
// rotation between hashing a token under the old key and trying the
// other keys still tries the new one. Another node has already moved the
// token's hash to the new key; had the lookup asked for the keys other
// than the then active one (the new key), it would have tried the old key
// twice and refused a valid token (TestClusterMasterKeyRotation saw such
// 401s in about one run in ten).
func TestTokenLookupWhileThisNodeFollowsTheRotation(t *testing.T) {
	ctx := context.Background()
	path, oldKey, newKey := filepath.Join(t.TempDir(), "authgate.db"), masterKey(t), masterKey(t)
	var lagging core.Services
	h := holderUnderOldKey(t, path, oldKey, func() {
		lagging, _ = agtest.NewServices(t, agtest.Options{SQLitePath: path, MasterKey: oldKey, PreviousMasterKeys: [][]byte{newKey}})
		if err := lagging.CheckKeyring(ctx); err != nil || lagging.Keys.ActiveKeyID() != core.KeyID(oldKey) {
			t.Fatalf("lagging node: %v, active %s", err, lagging.Keys.ActiveKeyID())
		}
	})
	b := rotateTo(t, path, newKey, oldKey)
	if tok, err := b.Tokens.Find(ctx, h.token); err != nil || tok.KeyID != core.KeyID(newKey) { // moved by the node that rotated
		t.Fatalf("the rotating node: %+v %v", tok, err)
	}
	ms := &movingStore{Store: lagging.Store}
	ms.move = func() { // the old key's hash missed: now this node follows the rotation
		if err := lagging.RefreshKeyring(ctx); err != nil || lagging.Keys.ActiveKeyID() != core.KeyID(newKey) {
			t.Errorf("following the rotation: %v, active %s", err, lagging.Keys.ActiveKeyID())
		}
	}
	tok, err := core.NewTokens(ms, lagging.Keys, lagging.Clock).Find(ctx, h.token)
	if err != nil || tok.KeyID != core.KeyID(newKey) {
		t.Fatalf("Find = %+v, %v after %d lookups", tok, err, ms.calls)
	}
}
