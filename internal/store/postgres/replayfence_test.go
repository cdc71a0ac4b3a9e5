package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/sqlstore"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

var _ core.ReplayFencer = (*sqlstore.Store)(nil)

// loseReplayTable empties the UNLOGGED tables as PostgreSQL's crash
// recovery (or a failover to a standby) does. The real crash is tested in
// internal/cluster (TestReplayFenceAfterPostgresCrash).
func loseReplayTable(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	if _, err := s.DB().Exec(`TRUNCATE replay_keys, replay_epoch`); err != nil {
		t.Fatal(err)
	}
}

// TestReplayFenceAfterLoss: two stores (two nodes) on one database; the
// replay table is lost. Every key either node accepted before is refused
// by both afterwards (it is no longer in the table: the fence refuses it),
// a new message expiring past the fence is accepted once, a namespace that
// had no key is not fenced, and a second loss keeps the fence.
func TestReplayFenceAfterLoss(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var nodes []*sqlstore.Store
	for range 2 {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	a, b := nodes[0], nodes[1]
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(5 * time.Minute)
	insert := func(s *sqlstore.Store, keys ...string) []bool {
		t.Helper()
		var entries []core.ReplayEntry
		for _, k := range keys {
			entries = append(entries, core.ReplayEntry{Key: k, Expires: exp})
		}
		fresh, err := s.InsertReplayKeys(ctx, entries, now)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if f := insert(a, "sig:a1", "sig:a2"); !f[0] || !f[1] {
		t.Fatalf("first use refused: %v", f)
	}
	if f := insert(b, "sig:b1"); !f[0] {
		t.Fatal("first use on node b refused")
	}
	if fence, err := a.ReplayFence(ctx, now); err != nil || len(fence) != 0 {
		t.Fatalf("fence before any loss: %v %v", fence, err)
	}

	loseReplayTable(t, a)
	var n int
	if err := a.DB().QueryRow(`SELECT count(*) FROM replay_keys`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("premise: replay table not empty (%d, %v)", n, err)
	}
	// The keys are gone, yet every earlier message is refused, by both nodes.
	for _, tc := range []struct {
		s   *sqlstore.Store
		key string
	}{{b, "sig:a1"}, {a, "sig:a2"}, {a, "sig:b1"}, {b, "sig:b1"}} {
		if f := insert(tc.s, tc.key); f[0] {
			t.Fatalf("%s accepted twice after the replay table was lost", tc.key)
		}
	}
	single, err := b.InsertReplayKey(ctx, "sig:a1", exp, now)
	if err != nil || single {
		t.Fatalf("single insert after loss: %v %v", single, err)
	}
	fence, err := b.ReplayFence(ctx, now)
	if err != nil || !fence["sig"].After(exp) {
		t.Fatalf("fence of sig = %v (%v), want after %v", fence["sig"], err, exp)
	}
	// A message expiring past the fence is new: accepted once, cluster-wide.
	later := fence["sig"].Add(time.Second)
	fa, err := a.InsertReplayKeys(ctx, []core.ReplayEntry{{Key: "sig:new", Expires: later}}, now)
	if err != nil || !fa[0] {
		t.Fatalf("message past the fence refused: %v %v", fa, err)
	}
	if fb, err := b.InsertReplayKeys(ctx, []core.ReplayEntry{{Key: "sig:new", Expires: later}}, now); err != nil || fb[0] {
		t.Fatalf("message past the fence accepted twice: %v %v", fb, err)
	}
	// A namespace without earlier keys has no fence.
	if f := insert(b, "other:x"); !f[0] {
		t.Fatal("namespace without keys before the loss was fenced")
	}
	// A second loss: the fence stays at least as late.
	loseReplayTable(t, b)
	if f := insert(a, "sig:a1"); f[0] {
		t.Fatal("accepted after a second loss")
	}
	again, err := a.ReplayFence(ctx, now)
	if err != nil || again["sig"].Before(fence["sig"]) {
		t.Fatalf("fence after a second loss %v, before %v (%v)", again["sig"], fence["sig"], err)
	}
	// Once the clock passes the fence it refuses nothing: fresh messages
	// expire later still.
	past := again["sig"].Add(time.Minute)
	if f, err := a.InsertReplayKeys(ctx, []core.ReplayEntry{{Key: "sig:z", Expires: past.Add(5 * time.Minute)}}, past); err != nil || !f[0] {
		t.Fatalf("after the fence passed: %v %v", f, err)
	}
}

// TestReplayHorizonRaisedOncePerLead: a busy namespace raises its durable
// horizon once per lead, not per key, so replay inserts stay WAL-free.
func TestReplayHorizonRaisedOncePerLead(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.DSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	horizon := func() int64 {
		var h int64
		if err := s.DB().QueryRow(`SELECT horizon FROM replay_horizons WHERE namespace='sig'`).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if _, err := s.InsertReplayKey(ctx, "sig:1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	h1 := horizon()
	if h1 < now.Add(time.Minute).UnixMicro() {
		t.Fatalf("horizon %d below the key's expiry", h1)
	}
	// Keys expiring within the lead leave it alone.
	if _, err := s.InsertReplayKey(ctx, "sig:2", now.Add(time.Minute+5*time.Second), now); err != nil {
		t.Fatal(err)
	}
	if horizon() != h1 {
		t.Fatal("horizon raised for a key inside the lead")
	}
	if _, err := s.InsertReplayKey(ctx, "sig:3", now.Add(2*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if h := horizon(); h < now.Add(2*time.Minute).UnixMicro() {
		t.Fatalf("horizon %d not raised for a later key", h)
	}
	var persistence string
	if err := s.DB().QueryRow(`SELECT relpersistence::text FROM pg_class WHERE relname='replay_keys'`).Scan(&persistence); err != nil || persistence != "u" {
		t.Fatalf("replay_keys persistence %q (%v), want unlogged", persistence, err)
	}
}
