package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestJobIndexMigrationsRetryAFailedBuild: migrations 00008 and 00009
// build their indexes CONCURRENTLY, outside a transaction, so a build
// that fails leaves an invalid index and no recorded version behind. The
// next start must run them again and end with valid indexes of the
// intended definitions; a plain CREATE INDEX would stop at "already
// exists" and keep every node from starting.
func TestJobIndexMigrationsRetryAFailedBuild(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A concurrent build that failed: two jobs with the same created_at
	// make a unique build fail, leaving jobs_created invalid.
	exec(`DROP INDEX jobs_created`)
	for _, id := range []string{"job-a", "job-b"} {
		exec(`INSERT INTO jobs (id, queue, payload, run_at, created_at) VALUES ($1, 'q', '{}', 1, 1)`, id)
	}
	if _, err := db.ExecContext(ctx, `CREATE UNIQUE INDEX CONCURRENTLY jobs_created ON jobs(created_at)`); err == nil {
		t.Fatal("the unique build succeeded on duplicate keys (premise)")
	}
	if valid(t, db, "jobs_created") {
		t.Fatal("the failed build left a valid index (premise)")
	}
	exec(`DELETE FROM goose_db_version WHERE version_id >= 8`)

	s, err = postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("start after a failed index build: %v", err)
	}
	s.Close()
	for name, def := range map[string]string{
		"jobs_created": "CREATE INDEX jobs_created ON public.jobs USING btree (created_at, id)",
		"jobs_done":    "CREATE INDEX jobs_done ON public.jobs USING btree (done_at) WHERE (done_at IS NOT NULL)",
		"jobs_failed":  "CREATE INDEX jobs_failed ON public.jobs USING btree (failed_at) WHERE ((failed_at IS NOT NULL) AND (done_at IS NULL))",
	} {
		if !valid(t, db, name) {
			t.Errorf("%s is not valid after the retry", name)
		}
		var got string
		if err := db.QueryRowContext(ctx, `SELECT pg_get_indexdef($1::regclass)`, name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != def {
			t.Errorf("%s:\n got %s\nwant %s", name, got, def)
		}
	}
}

// valid reports whether index name exists and is valid (usable by queries).
func valid(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var ok bool
	err := db.QueryRow(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, name).Scan(&ok)
	if err == sql.ErrNoRows {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
