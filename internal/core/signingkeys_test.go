package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestSigningKeysRotation: a new key is published Prepublish before it
// signs, the old one stays published Keep after it stopped, and two
// managers on one store (two nodes) sign with the same key.
func TestSigningKeysRotation(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	ctx := context.Background()
	cfg := core.SigningKeysConfig{Docs: svc.Store, Seal: svc.Keys, Clock: clock, Collection: "test.system", ID: "keys",
		Purpose: "test.key", Alg: "ES256", Rotation: 24 * time.Hour, Keep: 2 * time.Minute, Prepublish: 10 * time.Minute}
	node1, node2 := core.NewSigningKeys(cfg), core.NewSigningKeys(cfg)
	signer := func(k *core.SigningKeys) string {
		t.Helper()
		s, err := k.Signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Kid
	}
	published := func() []string {
		t.Helper()
		set, err := node2.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			if k.Algorithm != "ES256" || k.Use != "sig" || !k.IsPublic() {
				t.Fatalf("published key %+v", k)
			}
			kids = append(kids, k.KeyID)
		}
		return kids
	}
	a := signer(node1)
	if b := signer(node2); b != a {
		t.Fatalf("two nodes sign with %s and %s", a, b)
	}
	if got := published(); len(got) != 1 || got[0] != a {
		t.Fatalf("JWKS %v, want [%s]", got, a)
	}
	// Within Prepublish of the end of its rotation, the next key is published but A still signs.
	clock.Advance(24*time.Hour - 10*time.Minute + time.Second)
	if s := signer(node1); s != a {
		t.Fatalf("signs with %s before the next key was published long enough", s)
	}
	next := published()
	if len(next) != 2 || next[1] != a {
		t.Fatalf("JWKS %v, want the next key and %s", next, a)
	}
	// After Prepublish the next key signs, on both nodes; A is still published.
	clock.Advance(10 * time.Minute)
	if s := signer(node1); s != next[0] {
		t.Fatalf("node1 signs with %s, want %s", s, next[0])
	}
	if s := signer(node2); s != next[0] {
		t.Fatalf("node2 signs with %s, want %s", s, next[0])
	}
	if got := published(); len(got) != 2 {
		t.Fatalf("JWKS %v: the retired key left before Keep", got)
	}
	// Keep later A is gone.
	clock.Advance(2*time.Minute + time.Second)
	if got := published(); len(got) != 1 || got[0] != next[0] {
		t.Fatalf("JWKS %v, want [%s]", got, next[0])
	}
	// The private keys are sealed: another master key cannot open them.
	other, _ := agtest.NewServices(t, agtest.Options{ManualClock: clock.Now()})
	cfg.Seal = other.Keys
	if _, err := core.NewSigningKeys(cfg).Signer(ctx); err == nil {
		t.Fatal("a key opened with another master key")
	}
}
