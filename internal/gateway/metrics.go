package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/core"
)

// metrics are the gateway's series, labelled by route name (bounded by
// MaxRoutes plus "none" for requests no route matched), scheme name and
// reason (a core error kind), all from closed sets.
type metrics struct {
	requests       *prometheus.CounterVec   // route
	denials        *prometheus.CounterVec   // route, scheme, reason
	upstream       *prometheus.CounterVec   // route, code
	upstreamErrors *prometheus.CounterVec   // route, reason
	latency        *prometheus.HistogramVec // route
}

// noRoute labels what no route matched.
const noRoute = "none"

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_gateway_requests_total",
			Help: "Requests matched to a gateway route (gateway and forward-auth modes), by route."}, []string{"route"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_gateway_denials_total",
			Help: "Gateway refusals by route, scheme and reason (the error kind); route \"none\": no route matched."}, []string{"route", "scheme", "reason"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_gateway_upstream_responses_total",
			Help: "Upstream responses by route and HTTP status."}, []string{"route", "code"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_gateway_upstream_errors_total",
			Help: "Upstream exchanges that failed by route and reason (unreachable, timeout, body_too_large, client_gone)."}, []string{"route", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authgate_gateway_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to its response headers, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 12)}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.denials, m.upstream, m.upstreamErrors, m.latency)
	return m
}

// routeSeries are one route's unlabelled series, looked up once when the
// route is compiled (the hot path skips the label hashing); its upstream
// responses are looked up once per status.
type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
	codes    *codeCounters
}

func (m *metrics) forRoute(name string) routeSeries {
	return routeSeries{requests: m.requests.WithLabelValues(name), latency: m.latency.WithLabelValues(name),
		codes: &codeCounters{vec: m.upstream, route: name, by: map[int]prometheus.Counter{}}}
}

// codeCounters are one route's upstream-response counters by status: at
// most 501 (0 and 100 to 599, see answered), each found in the vector once.
type codeCounters struct {
	vec   *prometheus.CounterVec
	route string
	mu    sync.RWMutex
	by    map[int]prometheus.Counter
}

func (c *codeCounters) of(status int) prometheus.Counter {
	c.mu.RLock()
	k, ok := c.by[status]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = c.vec.WithLabelValues(c.route, strconv.Itoa(status))
	c.mu.Lock()
	c.by[status] = k
	c.mu.Unlock()
	return k
}

func (m *metrics) denied(route, scheme string, err error) {
	if route == "" {
		route = noRoute
	}
	m.denials.WithLabelValues(route, scheme, core.KindOf(err).String()).Inc()
}

func (m *metrics) answered(rt *route, status int, took time.Duration) {
	rt.series.latency.Observe(took.Seconds())
	if status < 100 || status > 599 {
		status = 0 // the transport refuses these; never an unbounded label
	}
	rt.series.codes.of(status).Inc()
}
