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
	p := rn.run(ctx, s, c, rn.Duration, want)
	if rn.Progress != nil {
		fmt.Fprintf(rn.Progress, "  %-22s c=%-4d %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", s.Name, c, p.RPS, p.P50ms, p.P99ms, p.Errors)
	}
	return p
}

func (rn *Runner) run(ctx context.Context, s Scheme, c int, d time.Duration, want int) Point {
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
	elapsed := time.Since(start)
	slices.Sort(samples)
	return Point{
		Concurrency: c, Requests: count.Load(), Errors: errs.Load(),
		RPS:   float64(count.Load()) / elapsed.Seconds(),
		P50ms: percentile(samples, 0.50), P99ms: percentile(samples, 0.99), FirstError: firstErr,
	}
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
