package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// testKeyIDs: the master-key id stored beside sealed secrets, secret hashes
// and token hashes, the conditional moves of a rotation, and the counts a
// retirement relies on.
func testKeyIDs(t *testing.T, s core.Store) {
	ctx := context.Background()
	p := seedPrincipal(t, s, "o", "alice")
	past := t0.Add(-time.Minute)
	creds := []core.Credential{
		{ID: "h-old", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAccessKey, Lookup: "A", SecretHash: []byte("h1"), KeyID: "old", CreatedAt: t0},
		{ID: "h-legacy", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAccessKey, Lookup: "B", SecretHash: []byte("h2"), CreatedAt: t0},
		{ID: "h-expired", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAccessKey, Lookup: "C", SecretHash: []byte("h3"), KeyID: "old", CreatedAt: t0, ExpiresAt: &past},
		{ID: "s-old", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAppToken, Lookup: "D", Sealed: []byte("s1"), KeyID: "old", CreatedAt: t0},
		{ID: "s-new", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAppToken, Lookup: "E", Sealed: []byte("s2"), KeyID: "new", CreatedAt: t0},
		{ID: "s-revoked", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAppToken, Lookup: "F", Sealed: []byte("s3"), KeyID: "old", CreatedAt: t0, RevokedAt: &t0},
	}
	for _, c := range creds {
		must(t, s.CreateCredential(ctx, c))
	}
	got, err := s.GetCredential(ctx, "h-old")
	must(t, err)
	if got.KeyID != "old" {
		t.Fatalf("KeyID = %q", got.KeyID)
	}
	live := newToken("t-old", "f", core.TokenAccess, p.ID, t0, time.Hour)
	live.KeyID = "old"
	dead := newToken("t-dead", "f", core.TokenAccess, p.ID, t0.Add(-2*time.Hour), time.Hour)
	dead.KeyID = "old"
	batch := newToken("t-batch", "f", core.TokenAccess, p.ID, t0, time.Hour)
	batch.KeyID = "new"
	must(t, s.CreateToken(ctx, live))
	must(t, s.CreateToken(ctx, dead))
	if bw, ok := s.(core.BatchWriter); ok {
		must(t, bw.WriteBatch(ctx, []core.Token{batch}, nil))
	} else {
		must(t, s.CreateToken(ctx, batch))
	}
	tok, err := s.GetTokenByHash(ctx, batch.Hash)
	must(t, err)
	if tok.KeyID != "new" {
		t.Fatalf("batch-written token KeyID = %q", tok.KeyID)
	}

	uses, err := s.CountKeyUse(ctx, t0)
	must(t, err)
	want := []core.KeyUse{
		{KeyID: "", HashedCredentials: 1},
		{KeyID: "new", SealedCredentials: 1, Tokens: 1},
		{KeyID: "old", SealedCredentials: 2, HashedCredentials: 1, Tokens: 1},
	}
	if !slices.Equal(uses, want) {
		t.Fatalf("CountKeyUse = %+v, want %+v", uses, want)
	}

	sealed, err := s.ListSealedCredentials(ctx, "new", "", 1)
	must(t, err)
	if len(sealed) != 1 || sealed[0].ID != "s-old" {
		t.Fatalf("ListSealedCredentials page 1 = %+v", sealed)
	}
	sealed, err = s.ListSealedCredentials(ctx, "new", sealed[0].ID, 10)
	must(t, err)
	if len(sealed) != 1 || sealed[0].ID != "s-revoked" {
		t.Fatalf("ListSealedCredentials page 2 = %+v", sealed)
	}

	// Moves are conditional on the key id: of two nodes, one moves.
	ok, err := s.UpdateCredentialSecret(ctx, "h-old", "old", []byte("h1-new"), nil, "new")
	must(t, err)
	again, err := s.UpdateCredentialSecret(ctx, "h-old", "old", []byte("h1-other"), nil, "new")
	must(t, err)
	if !ok || again {
		t.Fatalf("UpdateCredentialSecret = %v then %v", ok, again)
	}
	got, _ = s.GetCredential(ctx, "h-old")
	if string(got.SecretHash) != "h1-new" || got.KeyID != "new" || got.Sealed != nil {
		t.Fatalf("moved credential = %+v", got)
	}
	ok, err = s.UpdateCredentialSecret(ctx, "h-legacy", "", []byte("h2-new"), nil, "new")
	must(t, err)
	if !ok {
		t.Fatal("legacy credential (no key id) not moved")
	}
	// A sealed secret is never written into a hashed credential, nor the reverse.
	ok, err = s.UpdateCredentialSecret(ctx, "s-old", "old", []byte("hash"), nil, "new")
	must(t, err)
	if ok {
		t.Fatal("a hash replaced a sealed secret")
	}
	ok, err = s.UpdateCredentialSecret(ctx, "s-old", "old", nil, []byte("s1-new"), "new")
	must(t, err)
	got, _ = s.GetCredential(ctx, "s-old")
	if !ok || string(got.Sealed) != "s1-new" || got.KeyID != "new" || got.SecretHash != nil {
		t.Fatalf("resealed credential = %+v (%v)", got, ok)
	}

	ok, err = s.RehashToken(ctx, "t-old", live.Hash, []byte("t-old-new"), "new")
	must(t, err)
	again, err = s.RehashToken(ctx, "t-old", live.Hash, []byte("t-old-other"), "new")
	must(t, err)
	if !ok || again {
		t.Fatalf("RehashToken = %v then %v", ok, again)
	}
	tok, err = s.GetTokenByHash(ctx, []byte("t-old-new"))
	must(t, err)
	if tok.ID != "t-old" || tok.KeyID != "new" {
		t.Fatalf("rehashed token = %+v", tok)
	}
	_, err = s.GetTokenByHash(ctx, live.Hash)
	wantErr(t, err, core.ErrNotFound)

	uses, err = s.CountKeyUse(ctx, t0)
	must(t, err)
	want = []core.KeyUse{
		{KeyID: "new", SealedCredentials: 2, HashedCredentials: 2, Tokens: 2},
		{KeyID: "old", SealedCredentials: 1},
	}
	if !slices.Equal(uses, want) {
		t.Fatalf("CountKeyUse after the moves = %+v, want %+v", uses, want)
	}
}
