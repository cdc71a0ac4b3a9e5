package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// RequestFunc builds the next request of a scheme. It is called from many
// goroutines; signatures that are single-use must be made fresh per call.
type RequestFunc func(ctx context.Context) (*http.Request, error)

// Scheme is one authentication scheme under load.
type Scheme struct {
	Name string
	// Request makes one request to send.
	Request RequestFunc
	// WantStatus is the status every request must get (default 200).
	WantStatus int
	// Raw is the scheme's bare crypto operation (one verification), used
	// as a ceiling; nil when the scheme has none.
	Raw     func() error
	RawName string
}

// Point is the result of one scheme at one concurrency.
type Point struct {
	Concurrency int     `json:"concurrency"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	FirstError  string  `json:"first_error,omitempty"`
	// BareRPS is the bare handler's rate measured beside this point, in
	// slices alternating with its own (Runner.LoadPaired); 0 when it was not.
	BareRPS float64 `json:"bare_rps,omitempty"`
}

// Result is a scheme's series plus its raw-crypto ceiling.
type Result struct {
	Scheme  string  `json:"scheme"`
	Points  []Point `json:"points"`
	RawName string  `json:"raw_name,omitempty"`
	RawOps  float64 `json:"raw_ops_per_sec,omitempty"`
}

// Best returns the point with the highest throughput.
func (r Result) Best() Point {
	var best Point
	for _, p := range r.Points {
		if p.RPS > best.RPS {
			best = p
		}
	}
	return best
}

// Runner drives load with a shared HTTP client.
type Runner struct {
	Client   *http.Client
	Duration time.Duration // per concurrency level
	Warmup   time.Duration
	Progress io.Writer // progress lines; nil for silence
}

// NewClient returns a client with enough idle connections for the highest concurrency.
func NewClient(maxConc int, tr *http.Transport) *http.Client {
	if tr == nil {
		tr = &http.Transport{}
	}
	tr.MaxIdleConns = maxConc * 2
	tr.MaxIdleConnsPerHost = maxConc * 2
	tr.MaxConnsPerHost = 0
	tr.IdleConnTimeout = time.Minute
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// maxSamples bounds the latency samples kept per level (uniform thinning beyond).
const maxSamples = 200_000

// Load runs s at concurrency c for the runner's duration.
func (rn *Runner) Load(ctx context.Context, s Scheme, c int) Point {
	want := s.WantStatus
	if want == 0 {
		want = http.StatusOK
	}
	if rn.Warmup > 0 {
		rn.run(ctx, s, c, rn.Warmup, want)
	}
	p := rn.run(ctx, s, c, rn.Duration, want).point(c)
	if rn.Progress != nil {
		fmt.Fprintf(rn.Progress, "  %-22s c=%-4d %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", s.Name, c, p.RPS, p.P50ms, p.P99ms, p.Errors)
	}
	return p
}

// LoadPaired runs s at concurrency c for the runner's duration, and
// bare beside it for as long: the time is cut into slices taken in the
// order bare, s, s, bare, bare, s, s, bare, so a change in the machine's
// speed while the level runs (other tenants, frequency, the collector's
// state) falls on both alike and cancels in the ratio of their rates. The
// point is s's; its BareRPS is bare's rate over its own slices. bare must
// answer 200.
func (rn *Runner) LoadPaired(ctx context.Context, s, bare Scheme, c int) Point {
	want := s.WantStatus
	if want == 0 {
		want = http.StatusOK
	}
	if rn.Warmup > 0 {
		rn.run(ctx, bare, c, rn.Warmup/2, http.StatusOK)
		rn.run(ctx, s, c, rn.Warmup, want)
	}
	var mine, base tally
	slice := rn.Duration / pairedSlices
	for i := range 2 * pairedSlices {
		// i%4 is 0 or 3 for bare: B S S B, twice.
		if i%4 == 0 || i%4 == 3 {
			base.add(rn.run(ctx, bare, c, slice, http.StatusOK))
		} else {
			mine.add(rn.run(ctx, s, c, slice, want))
		}
	}
	p := mine.point(c)
	b := base.point(c)
	p.BareRPS = b.RPS
	if b.Errors > 0 && p.FirstError == "" {
		p.FirstError = "bare: " + b.FirstError
	}
	if rn.Progress != nil {
		fmt.Fprintf(rn.Progress, "  %-22s c=%-4d %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  (bare beside it %.0f req/s)\n", s.Name, c, p.RPS, p.P50ms, p.P99ms, p.Errors, p.BareRPS)
	}
	return p
}

// pairedSlices is how many slices each side of LoadPaired gets (even, for
// the B S S B order).
const pairedSlices = 4

// tally is what one or more timed runs of a scheme counted.
type tally struct {
	count, errs int64
	elapsed     time.Duration
	samples     []time.Duration
	firstErr    string
}

func (t *tally) add(o tally) {
	t.count += o.count
	t.errs += o.errs
	t.elapsed += o.elapsed
	t.samples = append(t.samples, o.samples...) // each run's bounded by maxSamples
	if t.firstErr == "" {
		t.firstErr = o.firstErr
	}
}

func (t tally) point(c int) Point {
	slices.Sort(t.samples)
	p := Point{Concurrency: c, Requests: t.count, Errors: t.errs, FirstError: t.firstErr,
		P50ms: percentile(t.samples, 0.50), P99ms: percentile(t.samples, 0.99)}
	if t.elapsed > 0 {
		p.RPS = float64(t.count) / t.elapsed.Seconds()
	}
	return p
}

func (rn *Runner) run(ctx context.Context, s Scheme, c int, d time.Duration, want int) tally {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		count, errs atomic.Int64
		mu          sync.Mutex
		samples     = make([]time.Duration, 0, 1<<16)
		firstErr    string
		wg          sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			fail := func(msg string) {
				errs.Add(1)
				mu.Lock()
				if firstErr == "" {
					firstErr = msg
				}
				mu.Unlock()
			}
			for ctx.Err() == nil {
				req, err := s.Request(ctx)
				if err != nil {
					fail(err.Error())
					continue
				}
				t0 := time.Now()
				resp, err := rn.Client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err.Error())
					}
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				lat := time.Since(t0)
				if ctx.Err() != nil {
					break // cut-off request: not counted
				}
				if resp.StatusCode != want {
					fail(fmt.Sprintf("status %d: %.200s", resp.StatusCode, body))
					continue
				}
				count.Add(1)
				local = append(local, lat)
			}
			mu.Lock()
			if len(samples)+len(local) <= maxSamples {
				samples = append(samples, local...)
			} else {
				for i := 0; i < len(local); i += 1 + len(local)/(maxSamples/c+1) {
					samples = append(samples, local[i])
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return tally{count: count.Load(), errs: errs.Load(), elapsed: time.Since(start), samples: samples, firstErr: firstErr}
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * q)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// RawRate measures op per second on all cores for d (the ceiling the
// server could reach if it did nothing but this operation).
func RawRate(op func() error, d time.Duration) (float64, error) {
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
