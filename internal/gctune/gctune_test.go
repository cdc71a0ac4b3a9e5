package gctune

import (
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name               string
		live, roots, floor uint64
		want               int
	}{
		{"small live heap: goal at the floor", 3 * mib, 1 * mib, 64 * mib, 1525}, // 3 + 4*15.25 = 64
		{"live heap at the floor: GOGC as usual", 64 * mib, 1 * mib, 64 * mib, 100},
		{"live heap above the floor", 200 * mib, 1 * mib, 64 * mib, 100},
		{"just below the floor: never under the base", 60 * mib, 1 * mib, 64 * mib, 100},
		{"empty heap: bounded", 0, 0, 64 * mib, maxPercent},
		{"tiny heap: bounded", 1, 0, 64 * mib, maxPercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.live, tc.roots, tc.floor, DefaultPercent); got != tc.want {
				t.Fatalf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.roots, tc.floor, got, tc.want)
			}
		})
	}
}

func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func noEnv(string) string { return "" }

// TestTunerFollowsCollections: after a collection the percentage puts the
// goal at the floor; Stop restores GOGC's default. Process-wide state, so
// the subtests run in order, not in parallel.
func TestTunerFollowsCollections(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if g := gogc(); g != DefaultPercent {
		t.Skipf("GOGC is %d in this test process", g) // go test honours a GOGC from the environment
	}
	tu := Start(256<<20, noEnv, log)
	deadline := time.Now().Add(10 * time.Second)
	for gogc() <= DefaultPercent {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d after collections", gogc())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	metrics.Read(s)
	if goal := s[0].Value.Uint64(); goal < 200<<20 {
		t.Errorf("heap goal %d bytes with a 256 MiB floor", goal)
	}
	tu.Stop()
	if g := gogc(); g != DefaultPercent {
		t.Fatalf("after Stop GOGC is %d, want %d", g, DefaultPercent)
	}
	// A collection after Stop does not tune again.
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if g := gogc(); g != DefaultPercent {
		t.Fatalf("a collection after Stop set GOGC to %d", g)
	}
}

func TestTunerOff(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for name, tu := range map[string]*Tuner{
		"floor 0": Start(0, noEnv, log),
		"GOGC in the environment": Start(256<<20, func(k string) string {
			if k == "GOGC" {
				return "200"
			}
			return ""
		}, log),
	} {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		if g := gogc(); g != DefaultPercent {
			t.Errorf("%s: GOGC set to %d", name, g)
		}
		tu.Stop()
		if g := gogc(); g != DefaultPercent {
			t.Errorf("%s: Stop set GOGC to %d", name, g)
		}
	}
}
