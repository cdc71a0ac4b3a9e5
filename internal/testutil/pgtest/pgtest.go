// Package pgtest gives each test its own fresh PostgreSQL database on the
// server named by AUTHGATE_TEST_POSTGRES (test.sh starts one). Without the
// variable the test is skipped, unless AUTHGATE_REQUIRE_POSTGRES=1 (the full
// CI run), where it fails instead so PostgreSQL coverage cannot silently vanish.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Required reports whether the run must not skip external dependencies.
func Required() bool { return os.Getenv("AUTHGATE_REQUIRE_POSTGRES") == "1" }

// DSN creates a uniquely named database for t, drops it when t ends, and
// returns its URL.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("AUTHGATE_TEST_POSTGRES")
	if admin == "" {
		if Required() {
			t.Fatal("AUTHGATE_TEST_POSTGRES is not set but AUTHGATE_REQUIRE_POSTGRES=1: PostgreSQL tests must run")
		}
		t.Skip("AUTHGATE_TEST_POSTGRES not set (./test.sh starts a PostgreSQL server)")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("AUTHGATE_TEST_POSTGRES: %v", err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "authgate_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}
