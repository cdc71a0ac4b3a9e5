package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestClaim: two nodes' claims on one store (each with its own connection
// pool, as two processes): exclusive excludes every other claim, shared
// ones coexist, and a released claim can be taken again.
func TestClaim(t *testing.T) {
	backends := map[string]func(t *testing.T) (dsn, dir string){
		"sqlite":   func(t *testing.T) (string, string) { return "sqlite:" + filepath.Join(t.TempDir(), "a.db"), "" },
		"postgres": func(t *testing.T) (string, string) { return pgtest.DSN(t), "" },
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn, dir := backend(t)
			open := func() core.Store {
				st, err := store.Open(ctx, dsn, dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			a, b := open(), open()
			claim := func(st core.Store, exclusive, want bool) func() {
				t.Helper()
				c, err := store.Claim(ctx, st, dsn, dir, exclusive)
				if want != (err == nil) || err != nil && core.KindOf(err) != core.KindConflict {
					t.Fatalf("claim (exclusive %v) = %v, want granted %v", exclusive, err, want)
				}
				if c == nil {
					return func() {}
				}
				return func() {
					if err := c.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
			release := claim(a, true, true)
			claim(b, true, false)
			claim(b, false, false)
			release()
			relA := claim(a, false, true)
			relB := claim(b, false, true)
			claim(b, true, false)
			relA()
			claim(a, true, false) // b still holds its shared claim
			relB()
			claim(b, true, true)()
		})
	}
}

// TestAttack_ConcurrentRotation: two processes' master-key rotations on
// one store (each with its own connection pool): the second is refused
// while the first holds the rotation lock, which is independent of the
// serving nodes' claims, and free again once released.
func TestAttack_ConcurrentRotation(t *testing.T) {
	backends := map[string]func(t *testing.T) (dsn, dir string){
		"sqlite":   func(t *testing.T) (string, string) { return "", t.TempDir() },
		"postgres": func(t *testing.T) (string, string) { return pgtest.DSN(t), "" },
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn, dir := backend(t)
			open := func() core.Store {
				st, err := store.Open(ctx, dsn, dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			a, b := open(), open()
			serving, err := store.Claim(ctx, a, dsn, dir, true) // a node serving alone does not block rotations
			if err != nil {
				t.Fatal(err)
			}
			defer serving.Close()
			first, err := store.LockRotation(ctx, a, dsn, dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.LockRotation(ctx, b, dsn, dir); core.KindOf(err) != core.KindConflict {
				t.Fatalf("second rotation while the first runs: %v", err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			second, err := store.LockRotation(ctx, b, dsn, dir)
			if err != nil {
				t.Fatalf("rotation after the first ended: %v", err)
			}
			second.Close()
		})
	}
}
