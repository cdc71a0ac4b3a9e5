package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one bench run.
type Report struct {
	Started     time.Time `json:"started"`
	Machine     string    `json:"machine"`
	Backend     string    `json:"backend"`
	DurationSec float64   `json:"duration_per_level_sec"`
	Baseline    Result    `json:"baseline"`
	Results     []Result  `json:"results"`
}

// MachineDescription names the machine the figures were taken on.
func MachineDescription() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s, %s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// WriteTable prints the summary: best throughput per scheme, latency at
// that point, and the ratios to the bare handler and to the raw crypto rate.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "machine: %s\nbackend: %s, %gs per concurrency level, load generator in the same process\n", r.Machine, r.Backend, r.DurationSec)
	if r.Paired() {
		fmt.Fprintln(w, "vs bare: over the bare handler's rate measured beside the scheme; the bare row is the handler alone, before the schemes")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scheme\treq/s\tconc\tp50 ms\tp99 ms\tvs bare\tp50 x bare\tp99 x bare\traw op\traw ops/s\tvs raw\t")
	row := func(res Result) {
		b := res.Best()
		vsBare := "-"
		if v := res.VsBare(r.Baseline); v > 0 {
			vsBare = fmt.Sprintf("%.0f%%", 100*v)
		}
		// Latency is compared with the bare handler at the same concurrency.
		p50x, p99x := "-", "-"
		for _, bp := range r.Baseline.Points {
			if bp.Concurrency == b.Concurrency && bp.P50ms > 0 && bp.P99ms > 0 {
				p50x, p99x = fmt.Sprintf("%.1fx", b.P50ms/bp.P50ms), fmt.Sprintf("%.1fx", b.P99ms/bp.P99ms)
			}
		}
		rawName, rawOps, vsRaw := "-", "-", "-"
		if res.RawOps > 0 {
			rawName, rawOps = res.RawName, fmt.Sprintf("%.0f", res.RawOps)
			vsRaw = fmt.Sprintf("%.0f%%", 100*b.RPS/res.RawOps)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.Scheme, b.RPS, b.Concurrency, b.P50ms, b.P99ms, vsBare, p50x, p99x, rawName, rawOps, vsRaw)
	}
	row(r.Baseline)
	for _, res := range r.Results {
		row(res)
	}
	return tw.Flush()
}

// Paired reports whether some result was measured with bare beside it.
func (r Report) Paired() bool {
	for _, res := range r.Results {
		for _, p := range res.Points {
			if p.BareRPS > 0 {
				return true
			}
		}
	}
	return false
}

// VsBare is r's best rate over the bare handler's. When r's levels were
// measured with bare beside them (Point.BareRPS) it is over the best of
// those rates, taken at the same times as r's own; otherwise over
// baseline's best, measured before. 0 when there is no bare rate.
func (r Result) VsBare(baseline Result) float64 {
	bare := 0.0
	for _, p := range r.Points {
		bare = max(bare, p.BareRPS)
	}
	if bare == 0 {
		bare = baseline.Best().RPS
	}
	if bare == 0 {
		return 0
	}
	return r.Best().RPS / bare
}

// WriteJSON writes the full report.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSVG draws throughput against concurrency, one line per scheme.
func (r Report) WriteSVG(w io.Writer) error {
	const width, height, left, right, top, bottom = 860, 480, 70, 200, 40, 50
	series := append([]Result{r.Baseline}, r.Results...)
	maxRPS, maxConc := 1.0, 1
	for _, s := range series {
		for _, p := range s.Points {
			maxRPS = math.Max(maxRPS, p.RPS)
			maxConc = max(maxConc, p.Concurrency)
		}
	}
	maxRPS = niceCeil(maxRPS)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	x := func(c int) float64 {
		return left + plotW*math.Log2(float64(c))/math.Max(1, math.Log2(float64(maxConc)))
	}
	y := func(v float64) float64 { return top + plotH*(1-v/maxRPS) }
	colors := []string{"#555", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="22" font-size="15">authgate throughput vs concurrency (%s)</text>`, left, html.EscapeString(r.Backend))
	for i := 0; i <= 5; i++ {
		v := maxRPS * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.0f</text>`, left, left+plotW, y(v), y(v), left-6, y(v)+4, v)
	}
	for c := 1; c <= maxConc; c *= 2 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, x(c), height-bottom+18, c)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">concurrent clients</text><text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">requests/s</text>`, left+plotW/2, height-10, top+int(plotH/2), top+int(plotH/2))
	for i, s := range series {
		col := colors[i%len(colors)]
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Concurrency), y(p.RPS)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`, width-right+15, top+i*20, col, width-right+32, top+i*20+11, html.EscapeString(s.Scheme))
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
