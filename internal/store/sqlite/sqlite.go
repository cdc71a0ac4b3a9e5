// Package sqlite is authgate's embedded default backend: SQLite through the
// pure-Go modernc.org/sqlite driver, in WAL mode, with its own migrations.
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A transaction that
// returned is in the WAL file in the operating system's hands, so it
// survives the process being killed (SIGKILL); only an operating-system
// crash or power loss can drop the last transactions before a checkpoint.
// Set synchronous=FULL (Options.FullSync) to survive those too.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the SQLite backend.
type Options struct {
	// FullSync makes every commit durable against power loss (slower).
	FullSync bool
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
}

// Open opens (creating if needed) the database file at path, applies
// migrations and returns the store.
func Open(ctx context.Context, path string, opt Options) (*sqlstore.Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	sync := "NORMAL"
	if opt.FullSync {
		sync = "FULL"
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(" + sync + ")", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, err
	}
	n := opt.ReadConns
	if n <= 0 {
		n = 4
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		read.Close()
		write.Close()
		return nil, err
	}
	return sqlstore.New(read, write, dialect{}, func() error {
		return errors.Join(read.Close(), write.Close())
	}), nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	return sqlstore.Migrate(ctx, db, goose.DialectSQLite3, migrations, "migrations")
}

type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Name() string           { return "sqlite" }
func (dialect) Rebind(q string) string { return q }
func (dialect) ClaimJobsQuery() string {
	// SQLite has one writer at a time, so a plain UPDATE ... RETURNING is atomic.
	return `UPDATE jobs SET locked_until=?, attempts=attempts+1 WHERE id IN (
		SELECT id FROM jobs WHERE queue=? AND done_at IS NULL AND failed_at IS NULL AND run_at<=?
		AND (locked_until IS NULL OR locked_until<=?) ORDER BY run_at LIMIT ?) RETURNING ` + sqlstore.JobColumns
}

func (dialect) Classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return core.Wrap(core.KindConflict, "already exists", err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return core.Wrap(core.KindInvalidInput, "refers to a missing object", err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return core.Wrap(core.KindUnavailable, "database busy", err)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return core.Wrap(core.KindUnavailable, "database cannot be written", err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY:
			return core.Wrap(core.KindUnavailable, "database cannot be written", err)
		}
	}
	if strings.Contains(err.Error(), "database is closed") {
		return core.Wrap(core.KindUnavailable, "database closed", err)
	}
	return core.Wrap(core.KindInternal, "", err)
}

// MigrationStatus reports the embedded migrations as applied or pending in
// the database file at path, which must exist; nothing is migrated.
func MigrationStatus(ctx context.Context, path string) ([]*goose.MigrationStatus, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, core.Wrap(core.KindNotFound, "no SQLite store at "+path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return sqlstore.MigrationStatus(ctx, db, goose.DialectSQLite3, migrations, "migrations")
}
