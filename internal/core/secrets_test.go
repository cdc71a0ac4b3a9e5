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
