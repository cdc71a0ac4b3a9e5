package core_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

func TestFailureLimiterNeverAnswersMoreThanLimit(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testLimiterNodes(t, agtest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testLimiterNodes(t, agtest.Options{PostgresDSN: pgtest.DSN(t)}) })
}

func testLimiterNodes(t *testing.T, opt agtest.Options) {
	ctx := context.Background()
	opt.ManualClock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, opt)
	// Two limiters on one store stand for two nodes sharing a database.
	nodeA := core.NewFailureLimiter(svc.Store, clock, "test", time.Minute)
	nodeB := core.NewFailureLimiter(svc.Store, clock, "test", time.Minute)

	k1 := core.Subject{Key: "key:k1", Limit: 5}
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := nodeA
			if i%2 == 1 {
				l = nodeB
			}
			if err := l.Fail(ctx, k1); err == nil {
				answered.Add(1)
			} else if core.KindOf(err) != core.KindRateLimited {
				t.Errorf("Fail: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := answered.Load(); got != 5 {
		t.Fatalf("failures answered as such = %d, want exactly the limit 5", got)
	}
	// Both nodes now refuse a correct secret for k1, one from the store.
	for _, l := range []*core.FailureLimiter{nodeA, nodeB} {
		if err := l.Check(ctx, k1); core.KindOf(err) != core.KindRateLimited {
			t.Fatalf("Check after limit = %v, want rate limited", err)
		}
	}
	// An unrelated subject is unaffected.
	if err := nodeA.Check(ctx, core.Subject{Key: "key:other", Limit: 5}); err != nil {
		t.Fatalf("Check other = %v", err)
	}
	// A third node that never saw a failure learns the block from the store.
	nodeC := core.NewFailureLimiter(svc.Store, clock, "test", time.Minute)
	if err := nodeC.Blocked(k1); err != nil {
		t.Fatalf("fresh node's fast path must not know the block yet: %v", err)
	}
	if err := nodeC.Check(ctx, k1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("fresh node Check = %v, want rate limited", err)
	}
	if err := nodeC.Blocked(k1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("fast path after Check = %v, want rate limited", err)
	}

	// The bound is sliding: one window later the previous window still counts.
	clock.Advance(time.Minute)
	if err := nodeC.Check(ctx, k1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("Check one window later = %v, want still limited (sliding bound)", err)
	}
	// Purging ended windows must not drop the window that still counts.
	if _, err := svc.Store.PurgeCounters(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := nodeC.Check(ctx, k1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("Check after purge = %v, want still limited", err)
	}
	clock.Advance(2 * time.Minute)
	for _, l := range []*core.FailureLimiter{nodeA, nodeB, nodeC} {
		if err := l.Check(ctx, k1); err != nil {
			t.Fatalf("Check two windows later = %v, want allowed", err)
		}
	}
}

func TestFailureLimiterAnySubjectLimits(t *testing.T) {
	ctx := context.Background()
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	l := core.NewFailureLimiter(svc.Store, clock, "multi", time.Minute)
	addr1 := core.Subject{Key: "addr:192.0.2.1", Limit: 3}
	// Failures spread over many keys from one address trip the address limit.
	for i, k := range []string{"key:a", "key:b", "key:c"} {
		if err := l.Fail(ctx, core.Subject{Key: k, Limit: 10}, addr1); err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := l.Fail(ctx, core.Subject{Key: "key:d", Limit: 10}, addr1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("4th failure from one address = %v, want rate limited", err)
	}
	if err := l.Check(ctx, core.Subject{Key: "key:e", Limit: 10}, addr1); core.KindOf(err) != core.KindRateLimited {
		t.Fatalf("success from blocked address = %v, want rate limited", err)
	}
	if err := l.Check(ctx, core.Subject{Key: "key:e", Limit: 10}, core.Subject{Key: "addr:192.0.2.2", Limit: 3}); err != nil {
		t.Fatalf("other address = %v", err)
	}
}

func TestTokenCacheRevocationAndBound(t *testing.T) {
	ctx := context.Background()
	opt := agtest.Options{ManualClock: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc, clock := agtest.NewServices(t, opt)
	svc.Tokens.EnableCache(core.TokenAccess, time.Second)
	// A second Tokens on the same store plays another node.
	other := core.NewTokens(svc.Store, svc.Keys, clock)

	value, tok, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value); err != nil {
		t.Fatal(err)
	}
	// Revocation on this node applies at once.
	if err := svc.Tokens.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("after local revoke: %v, want revoked", err)
	}

	value2, tok2, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value2); err != nil {
		t.Fatal(err)
	}
	// Revocation on another node: seen at the latest after the bound.
	if err := other.Revoke(ctx, tok2.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value2); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("after remote revoke + bound: %v, want revoked", err)
	}
	// Wrong kind is never accepted even when cached.
	if _, err := svc.Tokens.Lookup(ctx, core.TokenRefresh, value2); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("wrong kind: %v", err)
	}
	// Expiry is checked on every hit.
	value3, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(600 * time.Millisecond)
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value3); core.KindOf(err) != core.KindExpired {
		t.Fatalf("expired cached token: %v", err)
	}
}

// countingCounters counts the limiter's store reads.
type countingCounters struct {
	core.CounterStore
	reads atomic.Int64
}

func (c *countingCounters) ReadCounters(ctx context.Context, keys []string, windowEnds []time.Time) (map[string]int64, error) {
	c.reads.Add(1)
	return c.CounterStore.(core.CounterReader).ReadCounters(ctx, keys, windowEnds)
}

// TestFailureLimiterAlone: a node alone on its store reads each subject's
// counters once, then answers Check from memory while no failure of the
// subject counts; failures of an earlier process are found in the store.
func TestFailureLimiterAlone(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	store := &countingCounters{CounterStore: svc.Store}
	k1 := core.Subject{Key: "key:k1", Limit: 3}
	k2 := core.Subject{Key: "key:k2", Limit: 3}
	other := core.Subject{Key: "key:other", Limit: 3}

	// An earlier process exhausted k1's limit, then stopped.
	earlier := core.NewFailureLimiter(store, clock, "alone", time.Minute)
	for range 3 {
		_ = earlier.Fail(ctx, k1)
	}
	clock.Advance(10 * time.Second)
	l := core.NewFailureLimiter(store, clock, "alone", time.Minute)
	l.SetAlone()
	reads := func(f func()) int64 {
		before := store.reads.Load()
		f()
		return store.reads.Load() - before
	}
	steps := []struct {
		name      string
		advance   time.Duration
		fails     int
		subject   core.Subject
		wantLimit bool
		wantReads int64
	}{
		{"k1 after the restart: the earlier failures count", 0, 0, k1, true, 1},
		{"k1 again: refused from memory (blocked until the window ends)", 0, 0, k1, true, 0},
		{"other, first time: read once", 0, 0, other, false, 1},
		{"other again: from memory", 0, 0, other, false, 0},
		{"k2 after a failure here: read", 0, 1, k2, false, 1},
		{"k2 at the limit: refused by the blocked fast path", 0, 2, k2, true, 0},
		{"k2 after its windows passed: read, clean", 3 * time.Minute, 0, k2, false, 1},
		{"k2 again: from memory", 0, 0, k2, false, 0},
		{"k1 after the earlier windows passed: read, clean", 0, 0, k1, false, 1},
		{"k1 again: from memory", 0, 0, k1, false, 0},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		for range s.fails {
			_ = l.Fail(ctx, s.subject)
		}
		var err error
		n := reads(func() { err = l.Check(ctx, s.subject) })
		if (core.KindOf(err) == core.KindRateLimited) != s.wantLimit || (err != nil && !s.wantLimit) {
			t.Fatalf("%s: err %v, want limited=%v", s.name, err, s.wantLimit)
		}
		if n != s.wantReads {
			t.Fatalf("%s: %d store reads, want %d", s.name, n, s.wantReads)
		}
	}
}
