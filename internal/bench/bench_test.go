package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
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
		Results: []Result{{Scheme: "x", Points: []Point{{Concurrency: 2, RPS: p.RPS / 2}}, RawName: "noop", RawOps: raw}}}
	var table, js, svg bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "50%") {
		t.Fatalf("table lacks the ratio to bare:\n%s", table.String())
	}
	if err := r.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Fatalf("json: %v", err)
	}
	if err := r.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "polyline") {
		t.Fatalf("svg: %v", err)
	}
}
