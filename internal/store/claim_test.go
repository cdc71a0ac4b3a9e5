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
