// Package gctune keeps the Go garbage collector's heap goal from falling
// below a floor.
//
// With GOGC=100 the collector runs each time the heap doubles its live
// size. authgate's live heap is small (a few MiB), so under load it
// collected about ten times a second, and on a server limited to one core
// each cycle's mark phase held requests back by milliseconds: the p99 of a
// proxied request was the length of a GC cycle. A floor of a few tens of
// MiB makes cycles rare while the live heap is small and changes nothing
// once the live heap is larger than the floor (GOGC applies as before).
// Go has no such setting of its own (GOMEMLIMIT is a ceiling), so the
// floor is kept by re-setting the GC percentage after every cycle, from
// the runtime's own live-heap figure. GOGC and GOMEMLIMIT set in the
// environment still win: with GOGC set, nothing is tuned; a memory limit
// still bounds the heap, floor or not.
package gctune

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultPercent is the GC percentage below the floor's reach (GOGC's own
// default).
const DefaultPercent = 100

// maxPercent bounds the percentage a tiny live heap would ask for.
const maxPercent = 100_000

// Percent is the GC percentage that puts the heap goal at floor bytes for
// the live heap and the GC roots (stacks and globals) of the last cycle:
// the runtime's goal is live + (live + roots) * percent / 100. It is never
// below base, so above the floor GOGC's usual proportional goal applies.
func Percent(live, roots, floor uint64, base int) int {
	if floor <= live {
		return base
	}
	scan := live + roots
	if scan == 0 {
		return maxPercent
	}
	p := float64(floor-live) * 100 / float64(scan)
	if p > maxPercent {
		return maxPercent
	}
	return max(base, int(math.Floor(p)))
}

// Tuner re-sets the GC percentage after every collection so that the
// heap goal is at least Floor bytes.
type Tuner struct {
	floor   uint64
	base    int
	log     *slog.Logger
	samples []metrics.Sample

	mu      sync.Mutex
	stopped bool
	last    int
}

// Start tunes the collector for floor bytes until Stop, unless floor is 0
// or GOGC is set in the environment (getenv reads it), in which case the
// returned tuner does nothing. The process has one collector: only one
// Tuner should run at a time.
func Start(floor uint64, getenv func(string) string, log *slog.Logger) *Tuner {
	t := &Tuner{floor: floor, base: DefaultPercent, log: log, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	if floor == 0 {
		t.stopped = true
		return t
	}
	if v := getenv("GOGC"); v != "" {
		log.Info("GOGC is set: the heap floor is not applied", slog.String("GOGC", v))
		t.stopped = true
		return t
	}
	t.tune()
	t.arm()
	log.Debug("GC heap floor", slog.Uint64("bytes", floor))
	return t
}

// sentinel is allocated for its cleanup alone: it has a pointer and is
// larger than the tiny allocator's blocks, so it is freed by the next
// cycle that finds it unreachable, on its own.
type sentinel struct {
	_ *byte
	_ [16]byte
}

// arm registers a cleanup that runs after the next collection.
func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *Tuner) { t.afterGC() }, t)
}

func (t *Tuner) afterGC() {
	t.mu.Lock()
	stopped := t.stopped
	t.mu.Unlock()
	if stopped {
		return
	}
	t.tune()
	t.arm()
}

// tune sets the percentage for the live heap the last cycle measured.
func (t *Tuner) tune() {
	metrics.Read(t.samples)
	var v [3]uint64
	for i, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := Percent(v[0], v[1]+v[2], t.floor, t.base)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || p == t.last {
		return
	}
	t.last = p
	debug.SetGCPercent(p)
}

// Stop ends the tuning and restores the default percentage.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.base)
}
