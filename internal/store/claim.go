package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"time"

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
// `authgate backup` takes no claim: it only reads, in one SQLite read
// transaction beside the serving node.
//
// SQLite is claimed with flock on a lock file beside the database (never
// the database file itself: closing another descriptor of it would drop
// SQLite's own POSIX locks); PostgreSQL with a session advisory lock on a
// connection kept for the purpose.
func Claim(ctx context.Context, st core.Store, dsn, dataDir string, exclusive bool) (Claimed, error) {
	if IsPostgres(dsn) {
		d, ok := st.(interface{ DB() *sql.DB })
		if !ok {
			return nil, core.E(core.KindInternal, "postgres store without a connection pool")
		}
		c, err := postgres.ClaimNode(ctx, d.DB(), exclusive)
		if err != nil {
			return nil, pgClaimError(err, exclusive)
		}
		return pgClaim{c: c, exclusive: exclusive}, nil
	}
	if path, ok := SQLitePath(dsn, dataDir); ok {
		return claimFile(path+".lock", exclusive)
	}
	return nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}

// Claimed is a node's claim on its store.
type Claimed interface {
	io.Closer
	// Hold keeps the claim until ctx ends and returns nil then; it returns
	// an error if the claim was lost and another node holds the store now.
	Hold(ctx context.Context) error
}

// fileClaim: an flock is never lost while the descriptor is open.
type fileClaim struct{ io.Closer }

func (fileClaim) Hold(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// pgClaimCheck is how often a PostgreSQL claim's session is checked.
const pgClaimCheck = 5 * time.Second

type pgClaim struct {
	c         *postgres.NodeClaim
	exclusive bool
}

func (p pgClaim) Close() error { return p.c.Close() }

func (p pgClaim) Hold(ctx context.Context) error {
	if err := p.c.Hold(ctx, pgClaimCheck); err != nil {
		return pgClaimError(err, p.exclusive)
	}
	return nil
}

func pgClaimError(err error, exclusive bool) error {
	if errors.Is(err, postgres.ErrClaimed) {
		return core.E(core.KindConflict, conflictMessage("this PostgreSQL database", exclusive))
	}
	return err
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

// rotationLockKey is the advisory lock of master-key rotations on
// PostgreSQL, distinct from the node and migration locks.
const rotationLockKey int64 = 0x6167726f74 // "agrot"

// LockRotation takes the store's rotation lock without waiting, so one
// master-key rotation or retirement runs at a time across every process
// on the store; a held lock fails at once with KindConflict. Close
// releases it (the kernel or the server does when the process ends).
func LockRotation(ctx context.Context, st core.Store, dsn, dataDir string) (io.Closer, error) {
	busy := core.E(core.KindConflict, "another master-key rotation is running on this store: wait for it to finish")
	if IsPostgres(dsn) {
		d, ok := st.(interface{ DB() *sql.DB })
		if !ok {
			return nil, core.E(core.KindInternal, "postgres store without a connection pool")
		}
		c, err := postgres.TryLock(ctx, d.DB(), rotationLockKey)
		if errors.Is(err, postgres.ErrClaimed) {
			return nil, busy
		}
		return c, err
	}
	if path, ok := SQLitePath(dsn, dataDir); ok {
		c, err := claimFile(path+".rotate.lock", true)
		if core.KindOf(err) == core.KindConflict {
			return nil, busy
		}
		return c, err
	}
	return nil, core.E(core.KindInvalidInput, "unsupported --db value (use postgres://... or sqlite:PATH)")
}
