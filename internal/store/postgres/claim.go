package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// nodeLockKey is the advisory lock serving nodes claim a database with;
// distinct from goose's migration lock.
const nodeLockKey int64 = 0x617574686761 // "authga"

// ErrClaimed says another session holds the node lock in a conflicting mode.
var ErrClaimed = errors.New("the node lock is held by another session")

// NodeClaim is a session advisory lock (nodeLockKey, or TryLock's key), held on a
// connection kept out of the pool.
type NodeClaim struct {
	db        *sql.DB
	key       int64
	exclusive bool
	mu        sync.Mutex
	conn      *sql.Conn
}

// ClaimNode takes the node lock, exclusive or shared, without waiting.
// It fails with ErrClaimed when another session holds it in a conflicting
// mode.
func ClaimNode(ctx context.Context, db *sql.DB, exclusive bool) (*NodeClaim, error) {
	return takeLock(ctx, db, nodeLockKey, exclusive)
}

// TryLock takes the exclusive session advisory lock key without waiting
// (ErrClaimed when another session holds it); Close releases it.
func TryLock(ctx context.Context, db *sql.DB, key int64) (*NodeClaim, error) {
	return takeLock(ctx, db, key, true)
}

func takeLock(ctx context.Context, db *sql.DB, key int64, exclusive bool) (*NodeClaim, error) {
	n := &NodeClaim{db: db, key: key, exclusive: exclusive}
	conn, err := n.take(ctx)
	if err != nil {
		return nil, err
	}
	n.conn = conn
	return n, nil
}

func (n *NodeClaim) take(ctx context.Context) (*sql.Conn, error) {
	conn, err := n.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	fn := "pg_try_advisory_lock_shared"
	if n.exclusive {
		fn = "pg_try_advisory_lock"
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT "+fn+"($1)", n.key).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("store lock: %w", err)
		}
		return nil, ErrClaimed
	}
	return conn, nil
}

// Hold checks every interval that the lock's session is alive. A session
// lost (database restarted, connection cut) released the lock on the
// server: Hold takes it again, and returns ErrClaimed if meanwhile another
// node took it in a conflicting mode. It returns nil when ctx ends.
func (n *NodeClaim) Hold(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n.mu.Lock()
		conn := n.conn
		n.mu.Unlock()
		if conn != nil {
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := conn.PingContext(pctx)
			cancel()
			if err == nil {
				continue
			}
			conn.Close()
			n.mu.Lock()
			n.conn = nil
			n.mu.Unlock()
		}
		conn, err := n.take(ctx)
		switch {
		case errors.Is(err, ErrClaimed):
			return err
		case err != nil: // the database is unreachable: try again next time
			continue
		}
		n.mu.Lock()
		n.conn = conn
		n.mu.Unlock()
	}
}

// Close releases the lock and returns the connection (a lost session has
// released it already).
func (n *NodeClaim) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	fn := "pg_advisory_unlock_shared"
	if n.exclusive {
		fn = "pg_advisory_unlock"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := n.conn.ExecContext(ctx, "SELECT "+fn+"($1)", n.key)
	if cerr := n.conn.Close(); err == nil {
		err = cerr
	}
	n.conn = nil
	return err
}
