package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestNodeClaimLostSession: the session holding a node's exclusive claim
// is killed (as a database restart does), which releases the lock on the
// server. While nobody else takes it, Hold takes it again; once another
// node has taken it, Hold reports ErrClaimed, so that node stops.
func TestNodeClaimLostSession(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	pool := func() *sql.DB {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.DB()
	}
	a, b, admin := pool(), pool(), pool()
	// kill terminates the session holding the lock and returns its pid.
	kill := func() int {
		t.Helper()
		var pid int
		var ok bool
		if err := admin.QueryRowContext(ctx, `SELECT pid, pg_terminate_backend(pid) FROM pg_locks
			WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid, &ok); err != nil || !ok {
			t.Fatalf("terminate the claim's session: %v", err)
		}
		return pid
	}
	heldBy := func() (pids []int) {
		t.Helper()
		rows, err := admin.QueryContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, pid)
		}
		return pids
	}
	claim, err := postgres.ClaimNode(ctx, a, true)
	if err != nil {
		t.Fatal(err)
	}
	defer claim.Close()
	if _, err := postgres.ClaimNode(ctx, b, false); !errors.Is(err, postgres.ErrClaimed) {
		t.Fatalf("second claim while held: %v", err)
	}
	hctx, cancel := context.WithCancel(ctx)
	held := make(chan error, 1)
	go func() { held <- claim.Hold(hctx, 20*time.Millisecond) }()

	// Lost and nobody took it: taken again, by a new session.
	killed := kill()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if p := heldBy(); len(p) == 1 && p[0] != killed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lost claim was not taken again: held by %v", heldBy())
		}
	}
	if _, err := postgres.ClaimNode(ctx, b, false); !errors.Is(err, postgres.ErrClaimed) {
		t.Fatalf("claim beside the retaken one: %v", err)
	}
	// Lost, and another node takes it first: Hold says so.
	cancel()
	if err := <-held; err != nil {
		t.Fatalf("Hold after cancel: %v", err)
	}
	kill()
	var other *postgres.NodeClaim
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		// The terminated session may take a moment to go, and its lock with it.
		if other, err = postgres.ClaimNode(ctx, b, true); !errors.Is(err, postgres.ErrClaimed) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := claim.Hold(ctx, 20*time.Millisecond); !errors.Is(err, postgres.ErrClaimed) {
		t.Fatalf("Hold after another node took the lock: %v", err)
	}
}
