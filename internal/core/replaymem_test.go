package core_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

func openMem(t *testing.T, st core.ReplayStateStore, clock core.Clock, opts core.MemoryReplayOptions) *core.Replay {
	t.Helper()
	r, err := core.OpenMemoryReplay(context.Background(), st, clock, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runMem opens a memory replay cache with Run going; stop ends Run and
// closes the cache cleanly.
func runMem(t *testing.T, st core.ReplayStateStore, clock core.Clock) (r *core.Replay, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r = openMem(t, st, clock, core.MemoryReplayOptions{})
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	return r, func() {
		cancel()
		<-done
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// remember reports "fresh", "replayed" or the error.
func remember(r *core.Replay, ns, key string, expires time.Time) string {
	err := r.Remember(context.Background(), ns, key, expires)
	switch {
	case err == nil:
		return "fresh"
	case core.KindOf(err) == core.KindReplayed:
		return "replayed"
	default:
		return err.Error()
	}
}

func TestMemoryReplaySingleUse(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	r := openMem(t, svc.Store, clock, core.MemoryReplayOptions{})
	steps := []struct {
		advance time.Duration
		ns, key string
		expires time.Time
		want    string
	}{
		{0, "a", "k1", t0.Add(time.Minute), "fresh"},
		{0, "a", "k1", t0.Add(time.Minute), "replayed"},
		{0, "b", "k1", t0.Add(time.Minute), "fresh"}, // namespaces are separate
		{30 * time.Second, "a", "k1", t0.Add(2 * time.Minute), "replayed"},
		{31 * time.Second, "a", "k1", t0.Add(3 * time.Minute), "fresh"}, // expired entry is taken over
		{0, "a", "k1", t0.Add(3 * time.Minute), "replayed"},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if got := remember(r, s.ns, s.key, s.expires); got != s.want {
			t.Fatalf("step %d: %s/%s = %s, want %s", i, s.ns, s.key, got, s.want)
		}
	}
}

func TestMemoryReplayConcurrent(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	r := openMem(t, svc.Store, svc.Clock, core.MemoryReplayOptions{MaxKeys: 300})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	const keys = 1000 // beyond MaxKeys: the rest go through the store
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				err := r.Remember(context.Background(), "ns", fmt.Sprint(i), time.Now().Add(time.Minute))
				switch {
				case err == nil:
					fresh.Add(1)
				case core.KindOf(err) != core.KindReplayed:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != keys {
		t.Fatalf("%d keys accepted, want each of %d exactly once", fresh.Load(), keys)
	}
}

func TestMemoryReplayCleanRestart(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	r, stop := runMem(t, svc.Store, clock)
	for i := 0; i < 10; i++ {
		if got := remember(r, "ns", fmt.Sprint(i), t0.Add(time.Minute)); got != "fresh" {
			t.Fatal(got)
		}
	}
	stop()
	// Next start: every key was flushed and is reloaded; no fence, so a
	// new message expiring before the old horizon is accepted.
	r2 := openMem(t, svc.Store, clock, core.MemoryReplayOptions{})
	for i := 0; i < 10; i++ {
		if got := remember(r2, "ns", fmt.Sprint(i), t0.Add(time.Minute)); got != "replayed" {
			t.Fatalf("key %d after a clean restart: %s", i, got)
		}
	}
	if got := remember(r2, "ns", "new", t0.Add(time.Minute)); got != "fresh" {
		t.Fatalf("new key after a clean restart: %s", got)
	}
}

func TestMemoryReplayUncleanRestartFences(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	lead := 10 * time.Second
	r := openMem(t, svc.Store, clock, core.MemoryReplayOptions{Lead: lead})
	// Accepted, never flushed (Run is not running): what a crash loses.
	if got := remember(r, "pop", "lost", t0.Add(2*time.Minute)); got != "fresh" {
		t.Fatal(got)
	}
	if got := remember(r, "tpv", "other", t0.Add(5*time.Minute)); got != "fresh" {
		t.Fatal(got)
	}
	// No Close: the process died. The next start fences each namespace at
	// its persisted horizon (expiry + lead).
	clock.Advance(5 * time.Second)
	r2 := openMem(t, svc.Store, clock, core.MemoryReplayOptions{Lead: lead})
	tests := []struct {
		ns, key string
		expires time.Time
		want    string
	}{
		{"pop", "lost", t0.Add(2 * time.Minute), "replayed"},                // the lost key is not accepted twice
		{"pop", "made-before", t0.Add(2*time.Minute + lead), "replayed"},    // at the horizon: refused
		{"pop", "made-after", t0.Add(2*time.Minute + lead + 1), "fresh"},    // past it: accepted
		{"pop", "made-after", t0.Add(2*time.Minute + lead + 1), "replayed"}, // and single-use
		{"tpv", "x", t0.Add(3 * time.Minute), "replayed"},                   // tpv's horizon is later
		{"other-ns", "y", t0.Add(time.Minute), "fresh"},                     // no horizon: no fence
	}
	for i, tt := range tests {
		if got := remember(r2, tt.ns, tt.key, tt.expires); got != tt.want {
			t.Fatalf("case %d %s/%s: %s, want %s", i, tt.ns, tt.key, got, tt.want)
		}
	}
	err := r2.Remember(context.Background(), "pop", "lost", t0.Add(2*time.Minute))
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Kind != core.KindReplayed {
		t.Fatalf("fenced key: %v", err)
	}
	// The fence survives another crash: a third start still refuses.
	r3 := openMem(t, svc.Store, clock, core.MemoryReplayOptions{Lead: lead})
	if got := remember(r3, "pop", "lost", t0.Add(2*time.Minute)); got != "replayed" {
		t.Fatalf("after a second unclean stop: %s", got)
	}
}

func TestMemoryReplayReloadBeyondMaxKeys(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	r, stop := runMem(t, svc.Store, clock)
	for i := 0; i < 20; i++ {
		remember(r, "ns", fmt.Sprint(i), t0.Add(time.Minute))
	}
	stop()
	// Only 5 fit in memory at the next start: the other 15 are still
	// refused, because until they expire misses are checked in the store.
	r2 := openMem(t, svc.Store, clock, core.MemoryReplayOptions{MaxKeys: 5})
	for i := 0; i < 20; i++ {
		if got := remember(r2, "ns", fmt.Sprint(i), t0.Add(time.Minute)); got != "replayed" {
			t.Fatalf("key %d: %s", i, got)
		}
	}
	if got := remember(r2, "ns", "new", t0.Add(time.Minute)); got != "fresh" {
		t.Fatal(got)
	}
}

// TestMemoryReplayStateVersionRecovers: an update of the replay state
// that committed although it reported an error leaves the cached version
// behind; the next horizon write takes the stored version and succeeds.
func TestMemoryReplayStateVersionRecovers(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	r := openMem(t, svc.Store, clock, core.MemoryReplayOptions{})
	ctx := context.Background()
	doc, err := svc.Store.GetDocument(ctx, "replay-state", "memory")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.UpdateDocument(ctx, doc); err != nil { // the version moves on
		t.Fatal(err)
	}
	if got := remember(r, "ns", "k", t0.Add(time.Minute)); got != "fresh" {
		t.Fatalf("after a lost version: %s", got)
	}
	if got := remember(r, "ns", "k", t0.Add(time.Minute)); got != "replayed" {
		t.Fatal(got)
	}
}

// TestDatabaseModeHonoursMemoryFence: a node that ran in memory mode and
// died, restarted in database mode, still refuses the messages the lost
// run may have accepted.
func TestDatabaseModeHonoursMemoryFence(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	mem := openMem(t, svc.Store, clock, core.MemoryReplayOptions{})
	if got := remember(mem, "pop", "lost", t0.Add(2*time.Minute)); got != "fresh" {
		t.Fatal(got)
	}
	// No Close: the memory-mode process died. Database mode now.
	db := core.NewReplay(svc.Store, clock)
	if err := db.ApplyFence(context.Background(), svc.Store, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := remember(db, "pop", "lost", t0.Add(2*time.Minute)); got != "replayed" {
		t.Fatalf("lost key in database mode: %s", got)
	}
	if got := remember(db, "pop", "new", t0.Add(3*time.Minute)); got != "fresh" {
		t.Fatalf("message past the horizon: %s", got)
	}
	if got := remember(db, "pop", "new", t0.Add(3*time.Minute)); got != "replayed" {
		t.Fatal(got)
	}
	// A store that never ran memory mode has no fence.
	svc2, clock2 := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	db2 := core.NewReplay(svc2.Store, clock2)
	if err := db2.ApplyFence(context.Background(), svc2.Store, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := remember(db2, "pop", "lost", t0.Add(2*time.Minute)); got != "fresh" {
		t.Fatal(got)
	}
}

// TestMemoryReplayOnPostgresHonoursStoreFence: a memory-mode run on
// PostgreSQL stops cleanly (its keys written to the UNLOGGED replay
// table), then the database loses that table (crash recovery empties
// it). The next start finds a clean stop and no keys, yet refuses the
// earlier messages: it reads the store's fence.
func TestMemoryReplayOnPostgresHonoursStoreFence(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	svc, clock := agtest.NewServices(t, agtest.Options{PostgresDSN: pgtest.DSN(t), ManualClock: t0})
	r, stop := runMem(t, svc.Store, clock)
	for i := range 5 {
		if got := remember(r, "ns", fmt.Sprint(i), t0.Add(time.Minute)); got != "fresh" {
			t.Fatal(got)
		}
	}
	stop()
	db := svc.Store.(interface{ DB() *sql.DB }).DB()
	if _, err := db.Exec(`TRUNCATE replay_keys, replay_epoch`); err != nil {
		t.Fatal(err)
	}
	r2 := openMem(t, svc.Store, clock, core.MemoryReplayOptions{})
	for i := range 5 {
		if got := remember(r2, "ns", fmt.Sprint(i), t0.Add(time.Minute)); got != "replayed" {
			t.Fatalf("key %d after the replay table was lost: %s", i, got)
		}
	}
	if got := remember(r2, "ns", "later", t0.Add(time.Minute+time.Hour)); got != "fresh" {
		t.Fatalf("message past the fence: %s", got)
	}
}

// BenchmarkMemoryReplayMap reports the heap a memory-mode replay cache
// holds per key and in all, filled to a typical count and to the default
// (and, with the configuration, maximum in memory) replay.max_keys: the
// sharded map of key hashes plus the list kept for the clean stop. Run
// with -benchtime=1x; the bytes are the figures, not the time.
func BenchmarkMemoryReplayMap(b *testing.B) {
	for _, n := range []int{100_000, 1 << 20} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			for range b.N {
				svc, clock := agtest.NewServices(b, agtest.Options{ManualClock: t0})
				r, err := core.OpenMemoryReplay(context.Background(), svc.Store, clock, core.MemoryReplayOptions{MaxKeys: n})
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := r.Remember(context.Background(), "taap.pop", strconv.Itoa(i), t0.Add(2*time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
				// What the cache holds: the live heap with it, less the
				// live heap once it is unreachable.
				var full, freed runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&full)
				runtime.KeepAlive(r)
				r = nil
				runtime.GC()
				runtime.ReadMemStats(&freed)
				held := float64(full.HeapAlloc) - float64(freed.HeapAlloc)
				b.ReportMetric(held/float64(n), "bytes/key")
				b.ReportMetric(held/(1<<20), "MiB")
			}
		})
	}
}
