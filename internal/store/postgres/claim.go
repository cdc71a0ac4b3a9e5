package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"
)

// nodeLockKey is the advisory lock serving nodes claim a database with;
// distinct from goose's migration lock.
const nodeLockKey int64 = 0x617574686761 // "authga"

// ClaimNode takes the session advisory lock on nodeLockKey, exclusive or
// shared, without waiting, on a connection kept out of the pool until the
// returned Closer is closed. ok is false when another session holds the
// lock in a conflicting mode.
func ClaimNode(ctx context.Context, db *sql.DB, exclusive bool) (c io.Closer, ok bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("store lock: %w", err)
	}
	fn := "pg_try_advisory_lock_shared"
	if exclusive {
		fn = "pg_try_advisory_lock"
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+fn+"($1)", nodeLockKey).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("store lock: %w", err)
		}
		return nil, false, nil
	}
	return &nodeClaim{conn: conn, exclusive: exclusive}, true, nil
}

type nodeClaim struct {
	conn      *sql.Conn
	exclusive bool
}

// Close releases the lock and returns the connection (a lost session has
// released it already).
func (n *nodeClaim) Close() error {
	fn := "pg_advisory_unlock_shared"
	if n.exclusive {
		fn = "pg_advisory_unlock"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := n.conn.ExecContext(ctx, "SELECT "+fn+"($1)", nodeLockKey)
	if cerr := n.conn.Close(); err == nil {
		err = cerr
	}
	return err
}
