// Package postgres is authgate's cluster backend: PostgreSQL through pgx
// (database/sql adapter), with its own migrations. Any number of authgate
// nodes may share one database; every write is committed before the
// request it serves is answered.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the PostgreSQL backend.
type Options struct {
	MaxConns int // pool size (default 16)
}

// Open connects to dsn (postgres://...), applies migrations and returns the store.
func Open(ctx context.Context, dsn string, opt Options) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	n := opt.MaxConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.New(db, db, dialect{}, db.Close), nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	// A session-level advisory lock keeps nodes starting together from
	// migrating at the same time.
	return sqlstore.Migrate(ctx, db, goose.DialectPostgres, migrations, "migrations", goose.WithSessionLocker(newLocker()))
}

type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Name() string { return "postgres" }

// Rebind turns ? into $1, $2, ... (the shared SQL has no literal '?').
func (dialect) Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

var _ sqlstore.FencedReplayDialect = dialect{}

// InsertReplayKeysQuery raises the namespaces' durable horizons, inserts a
// whole batch of replay keys into the UNLOGGED replay table and reads the
// epoch row, in one statement (sqlstore.FencedReplayDialect). ON CONFLICT
// takes over an expired key and leaves a live one; RETURNING names the
// fresh keys. A statement that raises no horizon writes no WAL, so its
// commit does not wait for the disk.
func (dialect) InsertReplayKeysQuery() string {
	return `WITH h AS (
		INSERT INTO replay_horizons(namespace, horizon) SELECT n, hz FROM unnest($4::text[], $5::bigint[]) AS r(n, hz) ORDER BY n
		ON CONFLICT (namespace) DO UPDATE SET horizon=GREATEST(replay_horizons.horizon, excluded.horizon)
	), ins AS (
		INSERT INTO replay_keys(key, expires_at) SELECT k, e FROM unnest($1::text[], $2::bigint[]) AS b(k, e) ORDER BY k
		ON CONFLICT (key) DO UPDATE SET expires_at=excluded.expires_at WHERE replay_keys.expires_at<=$3
		RETURNING key
	)
	SELECT key, NULL::text FROM ins UNION ALL SELECT NULL::text, epoch FROM replay_epoch`
}

// replayFenceLock is the transaction advisory lock fence set-up takes.
const replayFenceLock int64 = 0x61677266656e6365 // "agrfence"

func (dialect) ReplayFenceQueries() sqlstore.ReplayFenceQueries {
	return sqlstore.ReplayFenceQueries{
		Lock:     "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(replayFenceLock, 10) + ")",
		Epoch:    `SELECT epoch FROM replay_epoch`,
		Fence:    `UPDATE replay_horizons SET fence=GREATEST(fence, horizon)`,
		SetEpoch: `INSERT INTO replay_epoch(id, epoch) VALUES(1, $1)`,
		Fences:   `SELECT namespace, fence FROM replay_horizons WHERE fence>$1`,
	}
}

func (dialect) ClaimJobsQuery() string {
	return `UPDATE jobs SET locked_until=?, attempts=attempts+1 WHERE id IN (
		SELECT id FROM jobs WHERE queue=? AND done_at IS NULL AND failed_at IS NULL AND run_at<=?
		AND (locked_until IS NULL OR locked_until<=?) ORDER BY run_at LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING ` + sqlstore.JobColumns
}

func (dialect) Classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return core.Wrap(core.KindConflict, "already exists", err)
		case pe.Code == "23503":
			return core.Wrap(core.KindInvalidInput, "refers to a missing object", err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300", strings.HasPrefix(pe.Code, "40"):
			// connection exceptions, admin shutdown, too many connections, serialization failures
			return core.Wrap(core.KindUnavailable, "database unavailable", err)
		}
		return core.Wrap(core.KindInternal, "", err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || errors.Is(err, sql.ErrConnDone) || isNetErr(err) {
		return core.Wrap(core.KindUnavailable, "database unavailable", err)
	}
	return core.Wrap(core.KindInternal, "", err)
}

func isNetErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "unexpected EOF") || strings.Contains(s, "conn closed")
}

// MigrationStatus reports the embedded migrations as applied or pending in
// the database at dsn; nothing is migrated (goose creates its version
// table in an empty database).
func MigrationStatus(ctx context.Context, dsn string) ([]*goose.MigrationStatus, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return sqlstore.MigrationStatus(ctx, db, goose.DialectPostgres, migrations, "migrations", goose.WithSessionLocker(newLocker()))
}
