package telemetry

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/authgate/authgate/internal/core"
)

// StoreLatency is the histogram of store statement latencies by operation
// (select, insert, update, delete, other): the store calls Observe.
type StoreLatency struct{ h *prometheus.HistogramVec }

// NewStoreLatency registers the histogram on reg.
func NewStoreLatency(reg prometheus.Registerer) *StoreLatency {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authgate_store_query_duration_seconds",
		Help:    "Latency of store statements by SQL operation.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 12)}, []string{"operation"})
	reg.MustRegister(h)
	return &StoreLatency{h: h}
}

// Observe records one statement.
func (s *StoreLatency) Observe(operation string, d time.Duration) {
	s.h.WithLabelValues(operation).Observe(d.Seconds())
}

// RegisterPools registers database/sql's pool statistics (go_sql_*: open,
// in use, idle connections, waits) for each named pool.
func RegisterPools(reg prometheus.Registerer, pools map[string]*sql.DB) {
	for name, db := range pools {
		if db != nil {
			reg.MustRegister(collectors.NewDBStatsCollector(db, name))
		}
	}
}

// JobCounter counts the outbox's unfinished jobs (core.JobStore.CountJobs).
type JobCounter interface {
	CountJobs(ctx context.Context) ([]core.JobCount, error)
}

// Outbox is the collector of authgate_outbox_jobs{queue,state}: pending
// (waiting or retrying) and failed (given up) jobs, read from the store, so
// every node reports the cluster's outbox. A read is reused for
// outboxCacheFor, so frequent scrapes cost the database one count.
type Outbox struct {
	store JobCounter
	clock core.Clock
	desc  *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts []core.JobCount
}

const (
	outboxCacheFor = 10 * time.Second
	outboxTimeout  = 2 * time.Second
)

var _ prometheus.Collector = (*Outbox)(nil)

// NewOutbox registers the collector on reg.
func NewOutbox(reg prometheus.Registerer, store JobCounter, clock core.Clock) *Outbox {
	o := &Outbox{store: store, clock: clock, desc: prometheus.NewDesc("authgate_outbox_jobs",
		"Unfinished outbox jobs (M2M callbacks) by queue and state: pending (waiting or retrying) or failed (given up).",
		[]string{"queue", "state"}, nil)}
	reg.MustRegister(o)
	return o
}

// Describe implements prometheus.Collector.
func (o *Outbox) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

// Collect implements prometheus.Collector. A store that does not answer
// in time leaves the last counts (or none) rather than stalling the scrape.
func (o *Outbox) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now := o.clock.Now(); o.at.IsZero() || now.Sub(o.at) >= outboxCacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
		counts, err := o.store.CountJobs(ctx)
		cancel()
		if err == nil {
			o.counts, o.at = counts, now
		}
	}
	for _, c := range o.counts {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(c.Jobs), c.Queue, c.State)
	}
}
