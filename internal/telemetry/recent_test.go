package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/scheme"
)

var (
	start     = time.Date(2026, 12, 1, 22, 0, 30, 0, time.UTC)
	errDenied = core.E(core.KindUnauthenticated, "wrong secret")
	errLimit  = &core.Error{Kind: core.KindRateLimited, Reason: "too many failed authentications", RetryAfter: time.Second}
)

func family(t *testing.T, r *Recent, name string) FamilyCounts {
	t.Helper()
	for _, f := range r.Snapshot() {
		if f.Family == name {
			return f
		}
	}
	t.Fatalf("no family %q in %v", name, r.Snapshot())
	return FamilyCounts{}
}

// TestRecentBucketsRollOver: each minute counts into its own bucket,
// the last hour is reported oldest first with the current minute last,
// and a minute older than an hour drops out (its slot reused, not added to).
func TestRecentBucketsRollOver(t *testing.T) {
	clock := core.NewManualClock(start)
	r := NewRecent(clock)
	r.AuthOutcome("oauth2", "bearer", nil)
	r.AuthOutcome("oauth2", "bearer", errDenied)
	r.AuthOutcome("oauth2", "password", errLimit)
	r.AuthOutcome("tpv", "signature", nil)

	f := family(t, r, "oauth2")
	if f.Requests != 3 || f.Denials != 2 || f.Limited != 1 || len(f.PerMinute) != RecentMinutes {
		t.Fatalf("first minute: %+v", f)
	}
	last := f.PerMinute[RecentMinutes-1]
	if !last.Minute.Equal(start.Truncate(time.Minute)) || last.Requests != 3 {
		t.Fatalf("current minute: %+v", last)
	}
	if first := f.PerMinute[0]; !first.Minute.Equal(start.Truncate(time.Minute).Add(-59*time.Minute)) || first.Requests != 0 {
		t.Fatalf("oldest minute: %+v", first)
	}

	clock.Advance(time.Minute)
	r.AuthOutcome("oauth2", "bearer", nil)
	f = family(t, r, "oauth2")
	if f.Requests != 4 || f.PerMinute[RecentMinutes-1].Requests != 1 || f.PerMinute[RecentMinutes-2].Requests != 3 {
		t.Fatalf("after a minute: %+v %+v", f.PerMinute[RecentMinutes-2], f.PerMinute[RecentMinutes-1])
	}

	// 59 minutes later the first minute is the oldest reported; one more and it is gone.
	clock.Advance(58 * time.Minute)
	if f = family(t, r, "oauth2"); f.Requests != 4 || f.PerMinute[0].Requests != 3 {
		t.Fatalf("the first minute at the window's start: %+v", f.PerMinute[0])
	}
	clock.Advance(time.Minute)
	if f = family(t, r, "oauth2"); f.Requests != 1 || f.Denials != 0 || f.Limited != 0 {
		t.Fatalf("an hour later: %+v", f)
	}
	// Its slot is reused for the new minute from zero, not added to.
	r.AuthOutcome("oauth2", "bearer", errDenied)
	if f = family(t, r, "oauth2"); f.Requests != 2 || f.PerMinute[RecentMinutes-1].Requests != 1 || f.PerMinute[RecentMinutes-1].Denials != 1 {
		t.Fatalf("slot reused: %+v", f.PerMinute[RecentMinutes-1])
	}
	// Hours later nothing of it is left.
	clock.Advance(5 * time.Hour)
	if f = family(t, r, "oauth2"); f.Requests != 0 {
		t.Fatalf("five hours later: %+v", f)
	}
	if tpv := family(t, r, "tpv"); tpv.Requests != 0 {
		t.Fatalf("tpv five hours later: %+v", tpv)
	}
}

// TestRecentClockBack: an observation stamped before the minute its slot
// already counts (the clock stepped back an hour) is not added to it.
func TestRecentClockBack(t *testing.T) {
	clock := &steppedClock{now: start}
	r := NewRecent(clock)
	r.AuthOutcome("m2m", "wss", nil)
	clock.now = start.Add(-time.Hour)
	r.AuthOutcome("m2m", "wss", nil)
	clock.now = start
	if f := family(t, r, "m2m"); f.Requests != 1 {
		t.Fatalf("after a stepped-back clock: %+v", f)
	}
}

type steppedClock struct{ now time.Time }

func (c *steppedClock) Now() time.Time { return c.now }

// TestRecentFamiliesBounded: family names beyond the bound share OtherFamily.
func TestRecentFamiliesBounded(t *testing.T) {
	r := NewRecent(core.NewManualClock(start))
	for i := range maxRecentFamilies + 10 {
		r.AuthOutcome(fmt.Sprintf("fam-%02d", i), "s", nil)
	}
	snap := r.Snapshot()
	if len(snap) != maxRecentFamilies+1 {
		t.Fatalf("%d families, want %d", len(snap), maxRecentFamilies+1)
	}
	if f := family(t, r, OtherFamily); f.Requests != 10 {
		t.Fatalf("other: %+v", f)
	}
}

// TestRecentConcurrent: observations from many goroutines across minute
// boundaries are all counted (run with -race).
func TestRecentConcurrent(t *testing.T) {
	clock := core.NewManualClock(start)
	r := NewRecent(clock)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fam := []string{"oauth2", "tpv"}[w%2]
			for i := range each {
				var err error
				if i%5 == 0 {
					err = errDenied
				}
				r.AuthOutcome(fam, "s", err)
			}
		}()
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for range 20 {
			_ = r.Snapshot()
			clock.Advance(time.Second)
		}
	}()
	wg.Wait()
	readers.Wait()
	var total, denied int64
	for _, f := range r.Snapshot() {
		total += f.Requests
		denied += f.Denials
	}
	if total != workers*each || denied != workers*each/5 {
		t.Fatalf("counted %d requests, %d denials; want %d, %d", total, denied, workers*each, workers*each/5)
	}
}

// TestRecentNoAllocation: the hot path allocates nothing, for a known
// family, a failure and a minute that rolls over.
func TestRecentNoAllocation(t *testing.T) {
	clock := core.NewManualClock(start)
	r := NewRecent(clock)
	r.AuthOutcome("oauth2", "bearer", nil)
	wrapped := fmt.Errorf("check: %w", errDenied)
	if n := testing.AllocsPerRun(100, func() {
		r.AuthOutcome("oauth2", "bearer", nil)
		r.AuthOutcome("oauth2", "bearer", wrapped)
		r.AuthOutcome("oauth2", "bearer", errLimit)
		clock.Advance(time.Minute)
	}); n != 0 {
		t.Fatalf("%v allocations per observation round, want 0", n)
	}
}

// TestTee: every observer hears every event.
func TestTee(t *testing.T) {
	a, b := NewRecent(core.NewManualClock(start)), NewRecent(core.NewManualClock(start))
	o := Tee(a, b)
	o.AuthOutcome("taap", "token", errors.New("foreign"))
	o.TokensIssued(core.TokenAccess, 1)
	o.TokensRevoked(1)
	o.ReplayRefused("jti")
	o.AuthLimited("taap", "taap-token")
	for _, r := range []*Recent{a, b} {
		if f := family(t, r, "taap"); f.Requests != 1 || f.Denials != 1 {
			t.Fatalf("tee: %+v", f)
		}
	}
}

// BenchmarkRecentAuthOutcome is the dashboard's cost per authentication
// (with the system clock), from parallel goroutines.
func BenchmarkRecentAuthOutcome(b *testing.B) {
	r := NewRecent(core.SystemClock{})
	for _, f := range []string{"oauth2", "tpv", "apstrata", "taap", "m2m", "device"} {
		r.AuthOutcome(f, "s", nil)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			var err error
			if i%4 == 0 {
				err = errDenied
			}
			r.AuthOutcome("m2m", "wss", err)
			i++
		}
	})
}

// TestKindOfAgrees: the allocation-free kind lookup decides as core.KindOf.
func TestKindOfAgrees(t *testing.T) {
	for _, err := range []error{
		nil, errDenied, errLimit, errors.New("foreign"),
		fmt.Errorf("a: %w", fmt.Errorf("b: %w", errLimit)),
		errors.Join(errors.New("x"), errLimit),
		errors.Join(core.E(core.KindInternal, "first"), errLimit),
		fmt.Errorf("two: %w %w", errDenied, errLimit),
	} {
		if got, want := kindOf(err), core.KindOf(err); got != want {
			t.Errorf("kindOf(%v) = %v, core.KindOf = %v", err, got, want)
		}
	}
}

// BenchmarkTeeAuthOutcome is what every authentication costs the
// observers together: the Prometheus counter and the dashboard's ring.
func BenchmarkTeeAuthOutcome(b *testing.B) {
	o := Tee(NewMetrics(prometheus.NewRegistry()), NewRecent(core.SystemClock{}))
	o.AuthOutcome("m2m", "wss", nil)
	o.AuthOutcome("m2m", "wss", errDenied)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if i%4 == 0 {
			err = errDenied
		}
		o.AuthOutcome("m2m", "wss", err)
	}
}

// BenchmarkGrantObservation is what a grant handler adds per request:
// scheme.Observe and Done (no tracer) into the composition root's Tee,
// a success and every fourth a failure, as the token endpoints call it.
func BenchmarkGrantObservation(b *testing.B) {
	o := Tee(NewMetrics(prometheus.NewRegistry()), NewRecent(core.SystemClock{}))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if i%4 == 0 {
			err = core.ErrUnauthenticated
		}
		_, obs := scheme.Observe(ctx, o, nil, "oauth2", "oauth2-password")
		obs.Done("", err)
	}
}
