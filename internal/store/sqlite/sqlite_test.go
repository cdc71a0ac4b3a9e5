package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/sqlite"
	"github.com/authgate/authgate/internal/store/storetest"
)

func open(t *testing.T) core.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "authgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestConcurrentCounters(t *testing.T) { storetest.RunConcurrentCounters(t, open(t)) }

// TestReadCache: two handles on one file stand for two processes.
func TestReadCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authgate.db")
	var handles []core.Store
	for range 2 {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles = append(handles, s)
	}
	storetest.RunReadCache(t, handles[0], handles[1])
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authgate.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrganisation(ctx, core.Organisation{ID: "o", Name: "o"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path, sqlite.Options{}) // migrations are idempotent
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetOrganisation(ctx, "o"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) core.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "authgate.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
