package store

import (
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/postgres"
)

// Claim takes a serving node's claim on the store named by dsn (as Open
// reads it), held until the returned Closer is closed or the process ends.
// A node whose replay cache is in memory decides replays alone, so its
// claim is exclusive: a second node on the same store would keep its own
// cache and accept every replay once more. Other nodes' claims are shared
// with each other. A conflicting claim fails at once with KindConflict and
// a message that says what to do.
//
// SQLite is claimed with flock on a lock file beside the database (never
// the database file itself: closing another descriptor of it would drop
// SQLite's own POSIX locks); PostgreSQL with a session advisory lock on a
// connection kept for the purpose.
func Claim(ctx context.Context, st core.Store, dsn, dataDir string, exclusive bool) (io.Closer, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		d, ok := st.(interface{ DB() *sql.DB })
		if !ok {
			return nil, core.E(core.KindInternal, "postgres store without a connection pool")
		}
		c, ok, err := postgres.ClaimNode(ctx, d.DB(), exclusive)
		if err == nil && !ok {
			err = core.E(core.KindConflict, conflictMessage("this PostgreSQL database", exclusive))
		}
		return c, err
	case strings.HasPrefix(dsn, "sqlite:"):
		return claimFile(strings.TrimPrefix(dsn, "sqlite:")+".lock", exclusive)
	case dsn == "":
		return claimFile(filepath.Join(dataDir, "authgate.db")+".lock", exclusive)
	}
	return nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}

// conflictMessage explains a refused claim.
func conflictMessage(what string, exclusive bool) string {
	if exclusive {
		return "another authgate serve is running on " + what + ": this node's replay cache would be in memory, " +
			"which needs the store alone (stop the other node, or run every node with replay.mode: database)"
	}
	return "an authgate serve with its replay cache in memory holds " + what + " alone " +
		"(stop it, or run every node with replay.mode: database)"
}
