package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/config"
)

// TestBenchSmoke runs `authgate bench` briefly on SQLite: every scheme is
// provisioned and served without a single failed request, each level with
// the bare handler measured beside it, and the table, JSON and SVG are
// written.
func TestBenchSmoke(t *testing.T) {
	out := t.TempDir()
	var stdout, progress bytes.Buffer
	// Windows long enough for one request of the slowest case (a signed
	// SOAP message) on a loaded 2-core machine: a smoke test, not a measurement.
	f := &benchFlags{out: out, duration: 300 * time.Millisecond, rawDuration: 40 * time.Millisecond, levels: []int{1, 2}, pairBare: true}
	def := config.Default() // serve's limits, as the command takes them from the configuration
	f.limits, f.maxInFlight, f.maxBodyBytes = def.HTTPLimits(), def.MaxInFlight, def.MaxBodyBytes
	if err := runBench(context.Background(), "", f, &stdout, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	want := benchNames() // every family's cases, in list order
	if len(want) < 7 {
		t.Fatalf("bench cases %v: fewer than the five families' seven", want)
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("schemes %v, want %v", rep.Results, want)
	}
	for i, r := range rep.Results {
		if r.Scheme != want[i] || r.RawOps <= 0 {
			t.Errorf("result %d: %s raw %v", i, r.Scheme, r.RawOps)
		}
		for _, p := range r.Points {
			if p.Requests == 0 || p.Errors != 0 {
				t.Errorf("%s at c=%d: %d requests, %d errors (%s)", r.Scheme, p.Concurrency, p.Requests, p.Errors, p.FirstError)
			}
			if p.BareRPS <= 0 { // --pair-bare, the default
				t.Errorf("%s at c=%d: no bare rate measured beside it", r.Scheme, p.Concurrency)
			}
		}
	}
	for _, name := range []string{"table.txt", "throughput.svg"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stdout.String(), "vs raw") || !strings.Contains(progress.String(), fmt.Sprintf("[%d/%d] %s", len(want), len(want), want[len(want)-1])) {
		t.Errorf("table or progress missing:\n%s\n%s", stdout.String(), progress.String())
	}
}

// TestBenchRefusesUnknownScheme: a --schemes name that no family's bench
// cases have is refused before anything is started, naming the known ones.
func TestBenchRefusesUnknownScheme(t *testing.T) {
	f := &benchFlags{out: t.TempDir(), duration: time.Millisecond, levels: []int{1}, schemes: []string{"bearer", "bogus"}}
	var stdout, progress bytes.Buffer
	err := runBench(context.Background(), "", f, &stdout, &progress)
	if err == nil || !strings.Contains(err.Error(), `unknown scheme "bogus"`) || !strings.Contains(err.Error(), strings.Join(benchNames(), ",")) {
		t.Fatalf("err %v", err)
	}
	if progress.Len() != 0 {
		t.Errorf("started anyway: %s", progress.String())
	}
}
