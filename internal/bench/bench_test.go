package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunnerCountsAndReports(t *testing.T) {
	url, stop, err := BareServer()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rn := &Runner{Client: NewClient(4, nil), Duration: 200 * time.Millisecond}
	ok := GetScheme("bare", url, nil)
	p := rn.Load(context.Background(), ok, 2)
	if p.Requests == 0 || p.Errors != 0 || p.RPS <= 0 || p.P99ms < p.P50ms {
		t.Fatalf("unexpected point %+v", p)
	}
	wrong := GetScheme("wants 401", url, nil)
	wrong.WantStatus = 401
	bad := rn.Load(context.Background(), wrong, 1)
	if bad.Requests != 0 || bad.Errors == 0 || !strings.Contains(bad.FirstError, "status 200") {
		t.Fatalf("wrong statuses must be errors, got %+v", bad)
	}
	raw, err := RawRate(func() error { return nil }, 50*time.Millisecond)
	if err != nil || raw <= 0 {
		t.Fatalf("RawRate = %v, %v", raw, err)
	}
	if _, err := RawRate(func() error { return errors.New("broken") }, 50*time.Millisecond); err == nil {
		t.Fatal("RawRate must surface op errors")
	}

	r := Report{Machine: "test", Backend: "sqlite", Baseline: Result{Scheme: "bare", Points: []Point{p}},
		Results: []Result{{Scheme: "x", Points: []Point{{Concurrency: 2, RPS: p.RPS / 2}}, RawName: "noop", RawOps: raw},
			{Scheme: "y", Points: []Point{{Concurrency: 2, RPS: 100, BareRPS: 400}}}}}
	var table, js, svg bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "50%") || !strings.Contains(table.String(), "25%") || !strings.Contains(table.String(), "measured beside the scheme") {
		t.Fatalf("table lacks the ratios to bare (the baseline's, and the one measured beside y):\n%s", table.String())
	}
	if err := r.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Fatalf("json: %v", err)
	}
	if err := r.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "polyline") {
		t.Fatalf("svg: %v", err)
	}
}

func TestLoadPairedMeasuresBareBeside(t *testing.T) {
	url, stop, err := BareServer()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var seen []string
	var mu sync.Mutex
	tag := func(name string) Scheme {
		s := GetScheme(name, url, nil)
		inner := s.Request
		s.Request = func(ctx context.Context) (*http.Request, error) {
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != name {
				seen = append(seen, name)
			}
			mu.Unlock()
			return inner(ctx)
		}
		return s
	}
	rn := &Runner{Client: NewClient(2, nil), Duration: 400 * time.Millisecond}
	p := rn.LoadPaired(context.Background(), tag("s"), tag("bare"), 2)
	if p.Requests == 0 || p.Errors != 0 || p.RPS <= 0 || p.BareRPS <= 0 {
		t.Fatalf("unexpected point %+v", p)
	}
	// B S S B, twice: the runs alternate bare, s, bare, s, bare.
	if want := []string{"bare", "s", "bare", "s", "bare"}; !slices.Equal(seen, want) {
		t.Fatalf("slices ran in the order %v, want %v", seen, want)
	}
	// A scheme refused by its server counts errors, and bare's rate is
	// still measured beside it.
	wrong := GetScheme("wants 401", url, nil)
	wrong.WantStatus = 401
	bad := rn.LoadPaired(context.Background(), wrong, GetScheme("bare", url, nil), 1)
	if bad.Requests != 0 || bad.Errors == 0 || bad.BareRPS <= 0 || !strings.Contains(bad.FirstError, "status 200") {
		t.Fatalf("wrong statuses must be errors, got %+v", bad)
	}
}

func TestVsBare(t *testing.T) {
	baseline := Result{Scheme: "bare", Points: []Point{{Concurrency: 1, RPS: 800}, {Concurrency: 4, RPS: 1000}}}
	for _, tc := range []struct {
		name   string
		points []Point
		want   float64
	}{
		{"against the baseline when not paired", []Point{{Concurrency: 1, RPS: 500}, {Concurrency: 4, RPS: 600}}, 0.6},
		// The best rate over the best bare rate measured beside the
		// scheme, not the baseline's, and not per level.
		{"against bare beside it when paired", []Point{{Concurrency: 1, RPS: 500, BareRPS: 700}, {Concurrency: 4, RPS: 600, BareRPS: 750}}, 0.8},
		{"no points", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Result{Scheme: "x", Points: tc.points}.VsBare(baseline)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("VsBare = %v, want %v", got, tc.want)
			}
		})
	}
	if got := (Result{Points: []Point{{RPS: 5}}}).VsBare(Result{}); got != 0 {
		t.Fatalf("VsBare without any bare rate = %v, want 0", got)
	}
}
