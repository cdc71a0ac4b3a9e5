// Command median reads the results.json of repeated `authgate bench` runs
// per backend (bench/run.sh alternates the backends run by run, so load
// from other processes on a shared machine falls on both alike) and prints
// the medians: per backend each scheme's best req/s and its ratio to the
// bare handler of the same run, then PostgreSQL against SQLite per scheme
// with the targets of the cluster issue.
//
// Usage: median DIR   (reads DIR/<backend>/run-*/results.json)
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"

	"github.com/authgate/authgate/internal/bench"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: median DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "median:", err)
		os.Exit(1)
	}
}

// series is one backend's runs: per scheme the best req/s of each run
// and the ratio to that run's bare handler.
type series struct {
	runs    int
	paired  bool // some "vs bare" was taken beside the scheme (Report.Paired)
	machine string
	rps     map[string][]float64
	vsBare  map[string][]float64
	order   []string
}

func load(dir string) (*series, error) {
	files, err := filepath.Glob(filepath.Join(dir, "run-*", "results.json"))
	if err != nil || len(files) == 0 {
		return nil, err
	}
	s := &series{rps: map[string][]float64{}, vsBare: map[string][]float64{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rep bench.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		s.runs++
		s.paired = s.paired || rep.Paired()
		s.machine = rep.Machine
		for _, r := range append([]bench.Result{rep.Baseline}, rep.Results...) {
			if _, seen := s.rps[r.Scheme]; !seen {
				s.order = append(s.order, r.Scheme)
			}
			best := r.Best().RPS
			s.rps[r.Scheme] = append(s.rps[r.Scheme], best)
			if v := r.VsBare(rep.Baseline); v > 0 {
				s.vsBare[r.Scheme] = append(s.vsBare[r.Scheme], v)
			}
		}
	}
	return s, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	w := slices.Clone(v)
	sort.Float64s(w)
	if len(w)%2 == 1 {
		return w[len(w)/2]
	}
	return (w[len(w)/2-1] + w[len(w)/2]) / 2
}

// targets: PostgreSQL's share of SQLite's req/s per scheme (bearer: of
// PostgreSQL's own bare handler).
var targets = map[string]float64{"tpv": 0.5, "apstrata": 0.5, "pop": 0.5, "password": 0.6}

const bearerTarget = 0.8

func run(dir string, w io.Writer) error {
	lite, err := load(filepath.Join(dir, "sqlite"))
	if err != nil {
		return err
	}
	pg, err := load(filepath.Join(dir, "postgresql"))
	if err != nil {
		return err
	}
	if lite == nil || pg == nil {
		return fmt.Errorf("need runs of both backends under %s/{sqlite,postgresql}/run-*", dir)
	}
	fmt.Fprintf(w, "machine: %s\nmedians of %d runs per backend, backends alternating run by run\n", pg.machine, min(lite.runs, pg.runs))
	if lite.paired || pg.paired {
		fmt.Fprintln(w, "vs bare: a scheme's best req/s over the bare handler's measured beside it (authgate bench --pair-bare)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scheme\tSQLite req/s\tvs bare\tPostgreSQL req/s\tvs bare\tPG / SQLite\ttarget\tmet\t")
	for _, sc := range lite.order {
		lr, pr := median(lite.rps[sc]), median(pg.rps[sc])
		if _, ok := pg.rps[sc]; !ok {
			continue
		}
		ratio := "-"
		if lr > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*pr/lr)
		}
		target, met := "-", "-"
		switch {
		case sc == "bearer":
			target = fmt.Sprintf("PG %.0f%% of bare", 100*bearerTarget)
			met = yes(median(pg.vsBare[sc]) >= bearerTarget)
		case targets[sc] > 0:
			target = fmt.Sprintf("%.0f%% of SQLite", 100*targets[sc])
			met = yes(lr > 0 && pr/lr >= targets[sc])
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f%%\t%.0f\t%.0f%%\t%s\t%s\t%s\t\n", sc, lr, 100*median(lite.vsBare[sc]), pr, 100*median(pg.vsBare[sc]), ratio, target, met)
	}
	return tw.Flush()
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
