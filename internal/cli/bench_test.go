package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/bench"
)

// TestBenchSmoke runs `authgate bench` briefly on SQLite: every scheme is
// provisioned and served without a single failed request, and the table,
// JSON and SVG are written.
func TestBenchSmoke(t *testing.T) {
	out := t.TempDir()
	var stdout, progress bytes.Buffer
	f := &benchFlags{out: out, duration: 150 * time.Millisecond, rawDuration: 20 * time.Millisecond, levels: []int{1, 2}}
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
	want := []string{"bearer", "password", "tpv", "apstrata", "wss", "pop", "pop-device"}
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
		}
	}
	for _, name := range []string{"table.txt", "throughput.svg"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stdout.String(), "vs raw") || !strings.Contains(progress.String(), "[7/7] pop-device") {
		t.Errorf("table or progress missing:\n%s\n%s", stdout.String(), progress.String())
	}
}
