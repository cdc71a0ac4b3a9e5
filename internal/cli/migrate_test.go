package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestMigrateStatus: on both backends, a store migrated only to version 2
// (as an older release left it) is listed with 1-2 applied and the rest
// pending, status applies nothing, `migrate` applies the rest, and status
// then lists none pending.
func TestMigrateStatus(t *testing.T) {
	backends := map[string]func(t *testing.T) (driver, dsn string, dialect goose.Dialect, args []string){
		"sqlite": func(t *testing.T) (string, string, goose.Dialect, []string) {
			dir := t.TempDir()
			return "sqlite", filepath.Join(dir, "authgate.db"), goose.DialectSQLite3, []string{"--data-dir", dir}
		},
		"postgres": func(t *testing.T) (string, string, goose.Dialect, []string) {
			dsn := pgtest.DSN(t)
			return "pgx", dsn, goose.DialectPostgres, []string{"--db", dsn, "--data-dir", t.TempDir()}
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			driver, dsn, dialect, args := open(t)
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(dialect, db, os.DirFS(filepath.Join("..", "store", name, "migrations")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			total := len(p.ListSources())
			db.Close()

			status := func() string {
				code, out, stderr := runCLIExit(t, append([]string{"migrate", "status"}, args...)...)
				if code != 0 {
					t.Fatalf("migrate status: exit %d %s", code, stderr)
				}
				return out
			}
			out := status()
			for _, re := range []string{`(?m)^\d{4}-\d\d-\d\dT\S+Z\s+00001_init\.sql\s+applied\s+1$`, `(?m)^\S+\s+00002_\S+\s+applied\s+2$`, `(?m)^\s+00003_\S+\s+pending\s+3$`,
				name + `: schema version 2, \d+ pending \(applied by 'authgate migrate'`} {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("status lacks %s:\n%s", re, out)
				}
			}
			if again := status(); again != out {
				t.Fatalf("status applied something:\n%s\nthen\n%s", out, again)
			}
			if code, _, stderr := runCLIExit(t, append([]string{"migrate"}, args...)...); code != 0 {
				t.Fatalf("migrate: %s", stderr)
			}
			out = status()
			var js migrationStatus
			code, jout, _ := runCLIExit(t, append([]string{"migrate", "status", "-o", "json"}, args...)...)
			if err := json.Unmarshal([]byte(jout), &js); code != 0 || err != nil || js.Backend != name || js.Pending != 0 || len(js.Items) != total ||
				js.Items[0].AppliedAt == nil || js.SchemaVersion != js.Items[total-1].Version {
				t.Fatalf("migrate status -o json: exit %d %v\n%s", code, err, jout)
			}
			if regexp.MustCompile(`(?m)\spending\s+\d+$`).MatchString(out) || strings.Count(out, " applied ") != total || !strings.Contains(out, ", 0 pending\n") {
				t.Fatalf("after migrate (%d migrations):\n%s", total, out)
			}
		})
	}
}

// TestMigrateStatusNoStore: on a data directory without a store, status
// says so and creates nothing.
func TestMigrateStatusNoStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "empty")
	code, _, stderr := runCLIExit(t, "migrate", "status", "--data-dir", dir)
	if code != exitNotFound || !strings.Contains(stderr, "no SQLite store") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("status created the data directory")
	}
}
