package core

import (
	"bytes"
	"errors"
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

func isErr(err, target error) bool { return errors.Is(err, target) }
