// Command latency measures a server's latency at a fixed request rate,
// open loop: request i is due at start + i/rate, whatever happened to the
// ones before it, and its latency runs from that due time to the end of
// its answer (so a stall delays, and counts against, every request due
// during it, as in wrk2; a closed-loop client would simply send less).
//
// bench/gateway uses it instead of hey -q: hey's -q is a rate per worker,
// each worker with a ticker of its own started at the same instant, so the
// load arrives as bursts of -c requests at once. A single-core proxy then
// serves a burst one request after the other, and the burst's last request
// waits for all the others: p99 measured that way is the burst's length,
// not the proxy's latency, and it grows with the proxy's per-request cost
// times -c (+6.4 ms for authgate and Caddy alike at 16 workers).
//
// The instrument must not add stalls of its own: it shares a core with
// the upstream, and a collection of its heap there delays every request
// due during it, whichever server is measured (it put the upstream's own
// p99 at 4-5 ms instead of 2.5). So the collector is off while it
// measures, bounded by a memory limit (-memlimit): the latencies are
// preallocated and the garbage of one run is a few hundred MiB at most.
//
// Usage: latency -url URL -rate N -duration 5s [-conns 64] [-memlimit 2048] [-H 'Name: value']...
// Prints one line: sent, errors, achieved rate, p50/p90/p99/p99.9/max in ms.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	target := flag.String("url", "", "URL to GET")
	rate := flag.Float64("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 5*time.Second, "measured time")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "unmeasured load first, at the same rate")
	conns := flag.Int("conns", 64, "connections (concurrent requests at most)")
	memLimit := flag.Int64("memlimit", 2048, "MiB of heap at which the collector runs anyway while measuring (1 to 1048576)")
	var hdr headers
	flag.Var(&hdr, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	if *target == "" || *rate <= 0 || *duration <= 0 || *conns <= 0 || *memLimit <= 0 || *memLimit > 1<<20 {
		flag.Usage()
		os.Exit(2)
	}
	h := http.Header{}
	for _, v := range hdr {
		name, value, ok := strings.Cut(v, ":")
		if !ok {
			log.Fatalf("-H %q: not Name: value", v)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	tr := &http.Transport{MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if err := get(client, *target, h); err != nil {
		log.Fatalf("first request: %v", err)
	}
	run(client, *target, h, *rate, *warmup)
	runtime.GC()
	debug.SetMemoryLimit(*memLimit << 20)
	old := debug.SetGCPercent(-1)
	lat, errs, took := run(client, *target, h, *rate, *duration)
	debug.SetGCPercent(old)
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6
	}
	fmt.Printf("sent %d errors %d rate %.0f p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
		len(lat)+errs, errs, float64(len(lat)+errs)/took.Seconds(), q(0.50), q(0.90), q(0.99), q(0.999), q(1))
}

// run sends GETs due every 1/rate for d and returns the latencies (ns)
// of the successful ones, the number of failures and the time it took.
func run(client *http.Client, target string, h http.Header, rate float64, d time.Duration) ([]int64, int, time.Duration) {
	n := int(rate * d.Seconds())
	due := make(chan time.Time, n)
	lat := make([]int64, 0, n)
	var mu sync.Mutex
	errs := 0
	var wg sync.WaitGroup
	workers := client.Transport.(*http.Transport).MaxConnsPerHost
	for range workers {
		wg.Go(func() {
			for t := range due {
				err := get(client, target, h)
				l := time.Since(t)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, int64(l))
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		t := start.Add(time.Duration(i) * interval)
		if w := time.Until(t); w > 0 {
			time.Sleep(w)
		}
		due <- t
	}
	close(due)
	wg.Wait()
	return lat, errs, time.Since(start)
}

func get(client *http.Client, target string, h http.Header) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
