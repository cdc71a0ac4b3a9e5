package core

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func testKeyring(t *testing.T, fill byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(bytes.Repeat([]byte{fill}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := testKeyring(t, 1)
	sealed, err := k.Seal([]byte("app secret"), "cred:app_token:T1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("app secret")) {
		t.Fatal("sealed blob contains the plaintext")
	}
	got, err := k.Open(sealed, "cred:app_token:T1")
	if err != nil || string(got) != "app secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tests := []struct {
		name   string
		keys   *Keyring
		sealed []byte
		aad    string
	}{
		{"other credential", k, sealed, "cred:app_token:T2"},
		{"other master key", testKeyring(t, 2), sealed, "cred:app_token:T1"},
		{"truncated", k, sealed[:10], "cred:app_token:T1"},
		{"tampered", k, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "cred:app_token:T1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.keys.Open(tt.sealed, tt.aad); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestKeyedHashSeparatesPurposesAndKeys(t *testing.T) {
	a, b := testKeyring(t, 1), testKeyring(t, 2)
	h := a.Hash("token", "v")
	if !a.VerifyHash("token", "v", h) {
		t.Fatal("same purpose and value must verify")
	}
	if a.VerifyHash("secret:access_key", "v", h) {
		t.Fatal("hash of one purpose verified under another")
	}
	if b.VerifyHash("token", "v", h) {
		t.Fatal("hash verified under another master key")
	}
}

func TestParseMasterKey(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{hex64, true},
		{hex64 + "\n", true},
		{"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", true},
		{"short", false},
		{strings.Repeat("ab", 16), false},
	} {
		_, err := ParseMasterKey(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseMasterKey(%q) err=%v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	enc := HashPassword("correct horse")
	if !strings.HasPrefix(enc, "$argon2id$v=19$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	if !VerifyPassword("correct horse", enc) {
		t.Fatal("right password rejected")
	}
	for _, bad := range []string{"wrong", ""} {
		if VerifyPassword(bad, enc) {
			t.Fatalf("password %q accepted", bad)
		}
	}
	for _, garbage := range []string{"", "$argon2id$", "$argon2id$v=19$m=1,t=1,p=1$!!$!!", "$bcrypt$x$y$z$w"} {
		if VerifyPassword("x", garbage) {
			t.Fatalf("garbage hash %q accepted", garbage)
		}
	}
}

func TestRandomTokenUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		v := RandomToken(32)
		if len(v) != 43 || strings.ContainsAny(v, "+/=") {
			t.Fatalf("token %q is not 32 bytes of unpadded base64url", v)
		}
		if seen[v] {
			t.Fatal("duplicate token")
		}
		seen[v] = true
	}
}

// TestRandomIdentifierNeverAFlag: an identifier handed to people never
// starts with "-" (about 160 of these 10,000 draws would with RandomToken)
// and is otherwise RandomToken's form, every other first character still
// drawn.
func TestRandomIdentifierNeverAFlag(t *testing.T) {
	firsts := map[byte]bool{}
	for i := 0; i < 10000; i++ {
		v := RandomIdentifier(48)
		if len(v) != 64 || strings.ContainsAny(v, "+/=") {
			t.Fatalf("identifier %q is not 48 bytes of unpadded base64url", v)
		}
		if v[0] == '-' {
			t.Fatalf("identifier %q starts with '-': a command line reads it as a flag", v)
		}
		firsts[v[0]] = true
	}
	if len(firsts) != 63 {
		t.Fatalf("%d distinct first characters, want the 63 of base64url other than '-'", len(firsts))
	}
}

func TestErrorKinds(t *testing.T) {
	err := Wrap(KindUnavailable, "database unavailable", bytes.ErrTooLarge)
	if KindOf(err) != KindUnavailable || ReasonOf(err) != "database unavailable" {
		t.Fatalf("KindOf/ReasonOf wrong for %v", err)
	}
	if !isErr(err, ErrUnavailable) || isErr(err, ErrNotFound) {
		t.Fatal("errors.Is on kind sentinels is wrong")
	}
	if KindOf(bytes.ErrTooLarge) != KindInternal || ReasonOf(bytes.ErrTooLarge) != "" {
		t.Fatal("foreign errors must be internal with no caller-visible reason")
	}
}

// TestInvalidReasons: an input refused for several faults keeps them all,
// the first as Reason, also when wrapped; other errors list none.
func TestInvalidReasons(t *testing.T) {
	err := fmt.Errorf("submit: %w", Invalid([]string{"a must be given.", "b must be a string."}))
	if KindOf(err) != KindInvalidInput || ReasonOf(err) != "a must be given." ||
		!slices.Equal(ReasonsOf(err), []string{"a must be given.", "b must be a string."}) {
		t.Fatalf("got %v, reasons %q", err, ReasonsOf(err))
	}
	if r := ReasonsOf(E(KindInvalidInput, "x must be set.")); r != nil {
		t.Fatalf("a single error lists %q", r)
	}
	if e := Invalid(nil); e.Kind != KindInvalidInput || e.Reason == "" || e.Reasons != nil {
		t.Fatalf("Invalid(nil) = %+v", e)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// A reader of the store (a backup, a replica) must not learn a sealed
// secret's length from its blob: every secret up to 60 bytes seals to the
// same size, longer ones to the next 64-byte bucket.
func TestAttack_SealedSecretLengthRevealed(t *testing.T) {
	k := testKeyring(t, 1)
	size := func(n int) int {
		t.Helper()
		pt := bytes.Repeat([]byte{'s'}, n)
		b, err := k.Seal(pt, "cred:app_token:T1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Open(b, "cred:app_token:T1")
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open(Seal(%d bytes)) = %d bytes, %v", n, len(got), err)
		}
		return len(b)
	}
	base := size(0)
	for _, n := range []int{1, 16, 32, 48, 60} {
		if got := size(n); got != base {
			t.Errorf("a %d-byte secret seals to %d bytes, an empty one to %d: the length shows", n, got, base)
		}
	}
	if size(61) != base+64 || size(124) != base+64 || size(125) != base+128 {
		t.Errorf("buckets are not 64 bytes: 61->%d 124->%d 125->%d (0->%d)", size(61), size(124), size(125), base)
	}
}

// Blobs sealed before padding existed (nonce || AES-GCM(plaintext), made
// with master key 0x07...) still open, and only with their own context.
func TestSealOpensLegacyFormat(t *testing.T) {
	k := testKeyring(t, 7)
	legacy, _ := hex.DecodeString("ab35d1f4ba83dab85a53403d81b0b0434140448798e18914821e93a1c62d3188985eefe8113794dc5d5ec6009df0cdeb196e07b1e482becd")
	got, err := k.Open(legacy, "cred:app_token:L1")
	if err != nil || string(got) != "legacy-app-secret-0123456789" {
		t.Fatalf("legacy Open = %q, %v", got, err)
	}
	if _, err := k.Open(legacy, "cred:app_token:L2"); err == nil {
		t.Fatal("legacy blob opened under another context")
	}
	// A padded blob stripped of its format byte does not open as legacy
	// (which would hand out the length prefix and padding as the secret).
	b, err := k.Seal([]byte("x"), "cred:app_token:L1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(b[1:], "cred:app_token:L1"); err == nil {
		t.Fatal("padded blob without its format byte opened")
	}
}

func TestKeyringSeveralMasterKeys(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, MasterKeySize), bytes.Repeat([]byte{2}, MasterKeySize)
	old, err := NewKeyring(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	both, err := NewKeyring(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if both.ActiveKeyID() != KeyID(newKey) || both.PrimaryKeyID() != KeyID(newKey) || !slices.Equal(both.KeyIDs(), []string{KeyID(newKey), KeyID(oldKey)}) {
		t.Fatalf("keyring ids: active %s, known %v", both.ActiveKeyID(), both.KeyIDs())
	}
	if len(KeyID(oldKey)) != 2*KeyIDSize || KeyID(oldKey) == KeyID(newKey) || strings.Contains(hex.EncodeToString(oldKey), KeyID(oldKey)) {
		t.Fatalf("key ids %s %s", KeyID(oldKey), KeyID(newKey))
	}
	sealedOld, err := old.Seal([]byte("secret"), "aad")
	if err != nil {
		t.Fatal(err)
	}
	if SealedKeyID(sealedOld) != KeyID(oldKey) {
		t.Fatalf("SealedKeyID = %s", SealedKeyID(sealedOld))
	}
	if got, err := both.Open(sealedOld, "aad"); err != nil || string(got) != "secret" {
		t.Fatalf("old blob under both keys: %q %v", got, err)
	}
	sealedNew, _ := both.Seal([]byte("secret"), "aad")
	if SealedKeyID(sealedNew) != KeyID(newKey) {
		t.Fatal("new blobs are not sealed under the active key")
	}
	if _, err := old.Open(sealedNew, "aad"); err == nil || !strings.Contains(err.Error(), "does not have") {
		t.Fatalf("old-only keyring opened a blob of an unknown key: %v", err)
	}
	// A blob whose id was changed to another known key's does not open.
	swapped := slices.Clone(sealedOld)
	copy(swapped[1:], sealedNew[1:1+KeyIDSize])
	if _, err := both.Open(swapped, "aad"); err == nil {
		t.Fatal("a blob opened under a key id it was not sealed under")
	}
	// Keyed hashes verify under the key they were made with.
	h, id := old.HashKeyed("token", "v")
	if !both.VerifyHashUnder(id, "token", "v", h) || both.VerifyHashUnder(KeyID(newKey), "token", "v", h) || both.VerifyHash("token", "v", h) {
		t.Fatal("keyed hash not verified under its own key only")
	}
	if both.VerifyHashUnder("00000000deadbeef", "token", "v", h) {
		t.Fatal("unknown key id verified a hash")
	}
	if got := both.Fallbacks(); !slices.Equal(got, []string{KeyID(oldKey)}) {
		t.Fatalf("Fallbacks = %v", got)
	}

	// Blobs written before key ids existed (padded format) open under the original key.
	legacy := legacyBlob(both.byID[KeyID(oldKey)], "legacy", "aad")
	if SealedKeyID(legacy) != "" {
		t.Fatal("legacy blob has a key id")
	}
	if got, err := both.Open(legacy, "aad"); err != nil || string(got) != "legacy" {
		t.Fatalf("legacy blob: %q %v", got, err)
	}
}

// TestAttack_SealedUnderRetiredKey: once retired, a key opens and verifies
// nothing, even on a node that still has it configured: a value sealed
// under it (a stale backup restored, a row written by a forgotten node) is
// refused, and its hashes verify nothing.
func TestAttack_SealedUnderRetiredKey(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, MasterKeySize), bytes.Repeat([]byte{2}, MasterKeySize)
	old, _ := NewKeyring(oldKey)
	both, _ := NewKeyring(newKey, oldKey)
	sealed, _ := old.Seal([]byte("secret"), "aad")
	h, id := old.HashKeyed("secret:access_key", "s")
	legacy := legacyBlob(old.byID[KeyID(oldKey)], "x", "aad")
	if _, err := both.Open(legacy, "aad"); err != nil {
		t.Fatalf("legacy blob before the retirement: %v", err)
	}
	if err := both.apply(KeyringState{Active: KeyID(newKey), Original: KeyID(oldKey), Retired: []string{KeyID(oldKey)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := both.Open(sealed, "aad"); err == nil || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("blob under a retired key: %v", err)
	}
	if _, err := both.Open(legacy, "aad"); err == nil {
		t.Fatal("an id-less blob opened after the original key was retired")
	}
	if both.VerifyHashUnder(id, "secret:access_key", "s", h) || both.VerifyHashUnder("", "secret:access_key", "s", h) {
		t.Fatal("a hash verified under a retired key")
	}
	if len(both.Fallbacks()) != 0 {
		t.Fatalf("retired key still a lookup fallback: %v", both.Fallbacks())
	}
	// A state naming an active key the node lacks is refused.
	if err := old.apply(KeyringState{Active: KeyID(newKey), Original: KeyID(oldKey)}); err == nil || !strings.Contains(err.Error(), "differs from the database's active master key") {
		t.Fatalf("unknown active key: %v", err)
	}
}

// legacyBlob seals pt in the padded format without a key id (written
// before key ids existed).
func legacyBlob(mk *masterKey, pt, aad string) []byte {
	n := mk.seal.NonceSize()
	buf := make([]byte, sealBucket)
	buf[3] = byte(len(pt))
	copy(buf[4:], pt)
	out := append([]byte{sealPadded}, bytes.Repeat([]byte{7}, n)...)
	return mk.seal.Seal(out, out[1:], buf, paddedAAD(aad))
}
