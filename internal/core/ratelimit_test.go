package core_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// Check functions standing for a wrong and a correct secret.
var (
	wrongSecret = func() error { return core.E(core.KindUnauthenticated, "invalid key or secret") }
	rightSecret = func() error { return nil }
)

func attempt(lookup, addr string) core.Attempt {
	return core.Attempt{Kind: core.CredAccessKey, Lookup: lookup, Addr: addr}
}

func limited(err error) bool { return core.KindOf(err) == core.KindRateLimited }

func TestGuardNeverAnswersMoreThanLimit(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testGuardNodes(t, agtest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testGuardNodes(t, agtest.Options{PostgresDSN: pgtest.DSN(t)}) })
}

func testGuardNodes(t *testing.T, opt agtest.Options) {
	ctx := context.Background()
	opt.ManualClock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, opt)
	limits := core.GuardLimits{Pair: 5, Address: 100, Credential: 100, Window: time.Minute}
	// Two guards on one store stand for two nodes sharing a database.
	nodeA := core.NewGuard(svc.Store, clock, limits)
	nodeB := core.NewGuard(svc.Store, clock, limits)

	k1 := attempt("k1", "192.0.2.1")
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := nodeA
			if i%2 == 1 {
				g = nodeB
			}
			switch err := g.Verify(ctx, k1, wrongSecret); {
			case core.KindOf(err) == core.KindUnauthenticated:
				answered.Add(1)
			case !limited(err):
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := answered.Load(); got != 5 {
		t.Fatalf("failures answered as such = %d, want exactly the limit 5", got)
	}
	// Both nodes now refuse a correct secret for the pair.
	for _, g := range []*core.Guard{nodeA, nodeB} {
		if err := g.Verify(ctx, k1, rightSecret); !limited(err) {
			t.Fatalf("correct secret after the limit = %v, want rate limited", err)
		}
	}
	// Only that pair: the same key from another address, and another key
	// from the same address, are unaffected.
	if err := nodeA.Verify(ctx, attempt("k1", "192.0.2.2"), rightSecret); err != nil {
		t.Fatalf("same key, other address = %v", err)
	}
	if err := nodeA.Verify(ctx, attempt("other", "192.0.2.1"), rightSecret); err != nil {
		t.Fatalf("other key, same address = %v", err)
	}
	// A third node that never saw a failure learns the refusal from the store.
	nodeC := core.NewGuard(svc.Store, clock, limits)
	if err := nodeC.Verify(ctx, k1, rightSecret); !limited(err) {
		t.Fatalf("fresh node = %v, want rate limited", err)
	}
	// From then on it refuses from memory, without running the check.
	ran := false
	if err := nodeC.Verify(ctx, k1, func() error { ran = true; return nil }); !limited(err) || ran {
		t.Fatalf("fast path: err %v, check ran %v", err, ran)
	}

	// The bound is sliding: one window later the previous window still counts.
	clock.Advance(time.Minute)
	if err := nodeC.Verify(ctx, k1, rightSecret); !limited(err) {
		t.Fatalf("one window later = %v, want still limited (sliding bound)", err)
	}
	// Purging ended windows must not drop the window that still counts.
	if _, err := svc.Store.PurgeCounters(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := nodeC.Verify(ctx, k1, rightSecret); !limited(err) {
		t.Fatalf("after purge = %v, want still limited", err)
	}
	clock.Advance(2 * time.Minute)
	for _, g := range []*core.Guard{nodeA, nodeB, nodeC} {
		if err := g.Verify(ctx, k1, rightSecret); err != nil {
			t.Fatalf("two windows later = %v, want allowed", err)
		}
	}
}

// TestGuardHotCredentialAndAddress: past the credential-wide limit each
// address without failures on the credential keeps exactly one attempt,
// also when they race on two nodes; past the address limit each credential
// without failures from the address does.
func TestGuardHotCredentialAndAddress(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testGuardHot(t, agtest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testGuardHot(t, agtest.Options{PostgresDSN: pgtest.DSN(t)}) })
}

func testGuardHot(t *testing.T, opt agtest.Options) {
	ctx := context.Background()
	opt.ManualClock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, opt)
	limits := core.GuardLimits{Pair: 3, Address: 8, Credential: 5, Window: time.Minute}
	nodes := []*core.Guard{core.NewGuard(svc.Store, clock, limits), core.NewGuard(svc.Store, clock, limits)}

	// 20 addresses each send 6 wrong guesses for one key at once.
	const addrs, each = 20, 6
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range addrs * each {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := attempt("victim", "198.51.100."+strconv.Itoa(i%addrs))
			if err := nodes[i%2].Verify(ctx, a, wrongSecret); core.KindOf(err) == core.KindUnauthenticated {
				answered.Add(1)
			} else if !limited(err) {
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := answered.Load(); got > int64(limits.Credential+addrs) || got < addrs {
		t.Fatalf("guesses answered = %d, want between %d and credential limit + addresses = %d", got, addrs, limits.Credential+addrs)
	}
	// The owner from an address that has not failed gets in; from one that did, not.
	if err := nodes[0].Verify(ctx, attempt("victim", "203.0.113.7"), rightSecret); err != nil {
		t.Fatalf("owner from a clean address = %v", err)
	}
	if err := nodes[1].Verify(ctx, attempt("victim", "198.51.100.3"), rightSecret); !limited(err) {
		t.Fatalf("correct secret from an address that failed on the hot key = %v, want limited", err)
	}
	// A clean address gets one wrong guess on the hot key, then nothing.
	clean := attempt("victim", "203.0.113.8")
	if err := nodes[1].Verify(ctx, clean, wrongSecret); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("first guess from a clean address = %v", err)
	}
	if err := nodes[0].Verify(ctx, clean, rightSecret); !limited(err) {
		t.Fatalf("second attempt from that address = %v, want limited", err)
	}

	// One address fails on 8 unknown keys: it is hot, not refused.
	nat := "192.0.2.99"
	for i := range 8 {
		if err := nodes[i%2].Verify(ctx, attempt("unknown"+strconv.Itoa(i), nat), wrongSecret); core.KindOf(err) != core.KindUnauthenticated {
			t.Fatalf("failure %d from the address = %v", i, err)
		}
	}
	if err := nodes[0].Verify(ctx, attempt("neighbour", nat), rightSecret); err != nil {
		t.Fatalf("neighbour behind the hot address = %v", err)
	}
	if err := nodes[1].Verify(ctx, attempt("unknown0", nat), wrongSecret); !limited(err) {
		t.Fatalf("second guess on a key from the hot address = %v, want limited", err)
	}
	if err := nodes[1].Verify(ctx, attempt("fresh", nat), wrongSecret); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("first guess on another key from the hot address = %v", err)
	}
	if err := nodes[0].Verify(ctx, attempt("fresh", nat), rightSecret); !limited(err) {
		t.Fatalf("second attempt on it = %v, want limited", err)
	}
	// Failures that are not guesses do not count.
	down := core.E(core.KindUnavailable, "store down")
	for range 10 {
		if err := nodes[0].Verify(ctx, attempt("k-down", "192.0.2.50"), func() error { return down }); err != down {
			t.Fatalf("non-guess error = %v, want it passed through", err)
		}
	}
	if err := nodes[0].Verify(ctx, attempt("k-down", "192.0.2.50"), rightSecret); err != nil {
		t.Fatalf("after non-guess failures = %v", err)
	}
}

// TestGuardAdmitCache: a node sharing its store trusts a store read that
// admitted a pair for AdmitCacheTTL, so failures counted on another node
// reach it at the latest that much later; a failure it counts itself
// ends the trust at once.
func TestGuardAdmitCache(t *testing.T) {
	ctx := context.Background()
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	store := &countingCounters{CounterStore: svc.Store}
	limits := core.GuardLimits{Pair: 3, Address: 100, Credential: 100, Window: time.Minute}
	nodeA, nodeB := core.NewGuard(store, clock, limits), core.NewGuard(store, clock, limits)
	pair := attempt("k", "192.0.2.1")
	reads := func(f func()) int64 {
		before := store.reads.Load()
		f()
		return store.reads.Load() - before
	}
	if n := reads(func() {
		if err := nodeA.Verify(ctx, pair, rightSecret); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("first success: %d reads, want 1", n)
	}
	if n := reads(func() {
		if err := nodeA.Verify(ctx, pair, rightSecret); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("second success: %d reads, want 0 (cached)", n)
	}
	for range 3 {
		_ = nodeB.Verify(ctx, pair, wrongSecret)
	}
	if err := nodeB.Verify(ctx, pair, rightSecret); !limited(err) {
		t.Fatalf("node B after the limit = %v", err)
	}
	// Node A has not seen node B's failures yet; within the bound it may admit.
	if err := nodeA.Verify(ctx, pair, rightSecret); err != nil {
		t.Fatalf("node A inside the bound = %v (expected the cached admission)", err)
	}
	clock.Advance(core.AdmitCacheTTL)
	if err := nodeA.Verify(ctx, pair, rightSecret); !limited(err) {
		t.Fatalf("node A after the bound = %v, want limited", err)
	}
	// A failure counted on the node itself ends its trust at once.
	other := attempt("k2", "192.0.2.1")
	if err := nodeA.Verify(ctx, other, rightSecret); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_ = nodeB.Verify(ctx, other, wrongSecret)
	}
	if err := nodeA.Verify(ctx, other, wrongSecret); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("third failure = %v", err)
	}
	if err := nodeA.Verify(ctx, other, rightSecret); !limited(err) {
		t.Fatalf("after its own failure node A = %v, want limited without waiting", err)
	}
}

// TestAddressKey: IPv6 addresses count per /64, IPv4 (also mapped) per address.
func TestAddressKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"fe80::1%eth0", "fe80::2"},
	} {
		if core.AddressKey(c.a) != core.AddressKey(c.b) {
			t.Errorf("%s and %s count apart: %s, %s", c.a, c.b, core.AddressKey(c.a), core.AddressKey(c.b))
		}
	}
	for _, c := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"@", "@x"},
	} {
		if core.AddressKey(c.a) == core.AddressKey(c.b) {
			t.Errorf("%s and %s count together", c.a, c.b)
		}
	}
	if k := core.AddressKey(strings.Repeat("x", 500)); len(k) > 64 {
		t.Errorf("long address kept as %d bytes", len(k))
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

// TestTokenLookupShared: LookupShared hands every lookup that finds a
// token in the cache the cache's entry itself (no copy), never modified:
// a revocation makes a new entry, so the token an earlier request was
// authenticated with stays as it was read. Tokens of kinds not cached are
// read anew each time; a wrong kind or an unknown value gives no token.
func TestTokenLookupShared(t *testing.T) {
	ctx := context.Background()
	svc, _ := agtest.NewServices(t, agtest.Options{ManualClock: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	svc.Tokens.EnableCache(core.TokenAccess, time.Minute)
	value, tok, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.Tokens.LookupShared(ctx, core.TokenAccess, value)
	if err != nil || first.ID != tok.ID {
		t.Fatalf("LookupShared: %+v, %v", first, err)
	}
	again, err := svc.Tokens.LookupShared(ctx, core.TokenAccess, value)
	if err != nil || again != first {
		t.Fatalf("second LookupShared: %p (%v), want the cached %p", again, err, first)
	}
	if copied, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value); err != nil || copied.ID != tok.ID {
		t.Fatalf("Lookup: %+v, %v", copied, err)
	}
	if err := svc.Tokens.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	revoked, err := svc.Tokens.LookupShared(ctx, core.TokenAccess, value)
	if core.KindOf(err) != core.KindRevoked || revoked == nil || revoked == first || revoked.RevokedAt == nil {
		t.Fatalf("after revoke: %+v, %v, want a new revoked token", revoked, err)
	}
	if first.RevokedAt != nil {
		t.Fatal("the shared token was modified in place by the revocation")
	}

	refresh, rt, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenRefresh, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r1, err1 := svc.Tokens.LookupShared(ctx, core.TokenRefresh, refresh)
	r2, err2 := svc.Tokens.LookupShared(ctx, core.TokenRefresh, refresh)
	if err1 != nil || err2 != nil || r1 == r2 || r1.ID != rt.ID || r2.ID != rt.ID {
		t.Fatalf("uncached kind: %p %v, %p %v, want two reads of %s", r1, err1, r2, err2, rt.ID)
	}
	for _, tc := range []struct {
		kind  core.TokenKind
		value string
	}{{core.TokenAccess, refresh}, {core.TokenRefresh, value}, {core.TokenAccess, "unknown"}, {core.TokenAccess, ""}} {
		if got, err := svc.Tokens.LookupShared(ctx, tc.kind, tc.value); got != nil || core.KindOf(err) != core.KindUnauthenticated {
			t.Errorf("LookupShared(%s, %q): %+v, %v, want no token, unauthenticated", tc.kind, tc.value, got, err)
		}
	}
}

// countingCounters counts the guard's store reads.
type countingCounters struct {
	core.CounterStore
	reads atomic.Int64
}

func (c *countingCounters) ReadCounters(ctx context.Context, keys []string, windowEnds []time.Time) (map[string]int64, error) {
	c.reads.Add(1)
	return c.CounterStore.(core.CounterReader).ReadCounters(ctx, keys, windowEnds)
}

// TestGuardAlone: a node alone on its store reads an attempt's counters
// once, then admits successes from memory while none of them has a
// failure that counts; failures of an earlier process are found in the store.
func TestGuardAlone(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	store := &countingCounters{CounterStore: svc.Store}
	limits := core.GuardLimits{Pair: 3, Address: 100, Credential: 100, Window: time.Minute}
	k1, k2, other := attempt("k1", "192.0.2.1"), attempt("k2", "192.0.2.2"), attempt("other", "192.0.2.3")

	// An earlier process exhausted k1's limit, then stopped.
	earlier := core.NewGuard(store, clock, limits)
	for range 3 {
		_ = earlier.Verify(ctx, k1, wrongSecret)
	}
	clock.Advance(10 * time.Second)
	g := core.NewGuard(store, clock, limits)
	g.SetAlone()
	reads := func(f func()) int64 {
		before := store.reads.Load()
		f()
		return store.reads.Load() - before
	}
	steps := []struct {
		name      string
		advance   time.Duration
		fails     int
		attempt   core.Attempt
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
			_ = g.Verify(ctx, s.attempt, wrongSecret)
		}
		var err error
		n := reads(func() { err = g.Verify(ctx, s.attempt, rightSecret) })
		if limited(err) != s.wantLimit || (err != nil && !s.wantLimit) {
			t.Fatalf("%s: err %v, want limited=%v", s.name, err, s.wantLimit)
		}
		if n != s.wantReads {
			t.Fatalf("%s: %d store reads, want %d", s.name, n, s.wantReads)
		}
	}
}

// BenchmarkGuardVerify measures the guard's own cost around a secret
// check on SQLite: a success on a node alone on its store and on a node
// sharing it (admit cache), and a failure (three counter upserts and a read).
func BenchmarkGuardVerify(b *testing.B) {
	ctx := context.Background()
	svc, _ := agtest.NewServices(b, agtest.Options{})
	for _, mode := range []string{"alone", "shared"} {
		b.Run("success-"+mode, func(b *testing.B) {
			g := core.NewGuard(svc.Store, svc.Clock, core.DefaultGuardLimits())
			if mode == "alone" {
				g.SetAlone()
			}
			a := attempt("bench-"+mode, "192.0.2.1")
			for b.Loop() {
				if err := g.Verify(ctx, a, rightSecret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("failure", func(b *testing.B) {
		g := core.NewGuard(svc.Store, svc.Clock, core.GuardLimits{Pair: 1 << 30, Address: 1 << 30, Credential: 1 << 30, Window: time.Minute})
		a := attempt("bench-fail", "192.0.2.2")
		for b.Loop() {
			if err := g.Verify(ctx, a, wrongSecret); core.KindOf(err) != core.KindUnauthenticated {
				b.Fatal(err)
			}
		}
	})
}
