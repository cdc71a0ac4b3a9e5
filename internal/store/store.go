// Package store opens the configured storage backend. The per-aggregate
// interfaces live in core (their users own them); the shared SQL lives in
// sqlstore, the backends in sqlite and postgres, and the conformance suite
// both must pass in storetest.
package store

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/sqlite"
)

// Open opens the backend named by dsn: "postgres://..." or
// "postgresql://..." selects PostgreSQL; "sqlite:PATH" or "" selects SQLite
// (the default file is authgate.db in dataDir).
func Open(ctx context.Context, dsn, dataDir string) (core.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"), sqlite.Options{})
	case dsn == "":
		return sqlite.Open(ctx, filepath.Join(dataDir, "authgate.db"), sqlite.Options{})
	}
	return nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}
