// Package store opens the configured storage backend. The per-aggregate
// interfaces live in core (their users own them); the shared SQL lives in
// sqlstore, the backends in sqlite and postgres, and the conformance suite
// both must pass in storetest.
package store

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/sqlite"
)

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// SQLitePath is the database file dsn names ("sqlite:PATH", or "" for
// authgate.db in dataDir); ok is false for other backends.
func SQLitePath(dsn, dataDir string) (path string, ok bool) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return strings.TrimPrefix(dsn, "sqlite:"), true
	case dsn == "":
		return filepath.Join(dataDir, "authgate.db"), true
	}
	return "", false
}

// Open opens the backend named by dsn: "postgres://..." or
// "postgresql://..." selects PostgreSQL; "sqlite:PATH" or "" selects SQLite
// (the default file is authgate.db in dataDir).
func Open(ctx context.Context, dsn, dataDir string) (core.Store, error) {
	if IsPostgres(dsn) {
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	if path, ok := SQLitePath(dsn, dataDir); ok {
		return sqlite.Open(ctx, path, sqlite.Options{})
	}
	return nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}

// MigrationStatus reports, without migrating, each migration of the
// backend dsn names as applied or pending; backend is "sqlite" or "postgres".
func MigrationStatus(ctx context.Context, dsn, dataDir string) (backend string, st []*goose.MigrationStatus, err error) {
	if IsPostgres(dsn) {
		st, err = postgres.MigrationStatus(ctx, dsn)
		return "postgres", st, err
	}
	if path, ok := SQLitePath(dsn, dataDir); ok {
		st, err = sqlite.MigrationStatus(ctx, path)
		return "sqlite", st, err
	}
	return "", nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}
