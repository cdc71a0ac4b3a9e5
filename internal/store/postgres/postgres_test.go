package postgres_test

import (
	"context"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/storetest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

func open(t *testing.T) core.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestConcurrentCounters(t *testing.T) { storetest.RunConcurrentCounters(t, open(t)) }

// TestReadCache: two stores on one database stand for two nodes.
func TestReadCache(t *testing.T) {
	dsn := pgtest.DSN(t)
	var handles []core.Store
	for range 2 {
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles = append(handles, s)
	}
	storetest.RunReadCache(t, handles[0], handles[1])
}

func TestConcurrentMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	errc := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err == nil {
				s.Close()
			}
			errc <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errc; err != nil {
			t.Fatalf("nodes starting together: %v", err)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) core.Store {
		s, err := postgres.Open(context.Background(), pgtest.DSN(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
