package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
)

// Module is a protocol adapter (or any group of routes) that registers
// itself on the router. Patterns use Go's ServeMux syntax ("POST /oauth/token").
type Module interface {
	Register(mux *http.ServeMux)
}

// Options configure the handler chain.
type Options struct {
	Log          *slog.Logger
	Ready        Pinger
	MaxBodyBytes int64 // default body limit; routes may read less
	// MaxInFlight bounds concurrently served requests; beyond it requests
	// are answered 503 with Retry-After instead of queueing without bound.
	// 0 means 4096.
	MaxInFlight int
	// Registry receives this handler's request metrics; nil: a registry of
	// its own with the Go and process collectors.
	Registry *prometheus.Registry
	// Server labels this handler's series (server="main") so several
	// handlers can share one Registry; all sharers must set it.
	Server string
	// ServeMetrics serves GET /metrics (the Registry) on this handler.
	// Partner- and device-facing listeners never do; the main listener does
	// unless metrics_listen moves it to a listener of its own.
	ServeMetrics bool
	// AccessLog selects the per-request log line (default: on, at info).
	AccessLog AccessLogMode
	// Limits caps requests in flight per client address and bounds body
	// reads; the Server serving this handler applies the rest of them.
	Limits Limits
	// Errors answers the requests the chain refuses itself (body over the
	// limit, no route or method, overload, panic) in the listener's own
	// error shape; nil: JSON {"error": reason}, and unrouted requests get
	// the mux's plain-text 404/405. A SOAP listener sets one that writes
	// Faults.
	Errors ErrorWriter
	// Fallback serves the requests whose path no route serves under any
	// method (the gateway's route table on the main listener): built-in
	// routes always take precedence. It is outside the default body
	// limit (it applies its own) and inside every other part of the chain.
	Fallback http.Handler
	// Tracing, when set, makes a server span of every request, its parent
	// taken from the request's W3C traceparent (telemetry.Tracing).
	Tracing HandlerTracing
	// Certificates is handed to the Server of a listener built from these
	// options (Server.Certificates): the expiry of what it serves.
	Certificates CertificateSink
}

// ErrorWriter writes the chain's refusal of r. status is the HTTP status
// the chain chose (413, 404, 405, 503, 500); err is typed (KindInvalidInput,
// KindNotFound, KindUnavailable with RetryAfter, KindInternal) and its
// Reason is safe to show. Headers the refusal needs (Retry-After, Allow,
// Connection: close) are already set on w.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, err *core.Error)

// writeJSONError is the default ErrorWriter.
func writeJSONError(w http.ResponseWriter, _ *http.Request, status int, err *core.Error) {
	WriteJSON(w, status, map[string]string{"error": err.Reason})
}

// AccessLogMode selects whether every request is logged.
type AccessLogMode int

// Access log modes.
const (
	AccessLogOn  AccessLogMode = iota // one info line per request
	AccessLogOff                      // failures and panics are still logged by their handlers
)

// Handler is the assembled HTTP handler.
type Handler struct {
	mux      *http.ServeMux
	chain    http.Handler
	metrics  *metrics
	Registry *prometheus.Registry
}

// HandlerTracing wraps a listener's handler in a server span per request.
type HandlerTracing interface {
	Handler(server string, h http.Handler) http.Handler
}

// NewHandler builds the router with every module and the middleware chain.
func NewHandler(opt Options, modules ...Module) *Handler {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 4096
	}
	// Unrouted requests keep the mux's own answers unless the listener
	// has an error shape of its own.
	custom := opt.Errors != nil
	if !custom {
		opt.Errors = writeJSONError
	}
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	var registerer prometheus.Registerer = reg
	if opt.Server != "" {
		registerer = prometheus.WrapRegistererWith(prometheus.Labels{"server": opt.Server}, reg)
	}
	h := &Handler{mux: http.NewServeMux(), metrics: newMetrics(registerer), Registry: reg}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.Handle("GET /readyz", &readiness{store: opt.Ready, log: opt.Log})
	if opt.ServeMetrics {
		h.mux.Handle("GET /metrics", metricsHandler(reg))
	}
	for _, m := range modules {
		m.Register(h.mux)
	}
	var chain http.Handler = h.mux
	if custom {
		chain = unrouted(h.mux, opt.Errors)
	}
	chain = limitBody(chain, opt.MaxBodyBytes, opt.Errors)
	if opt.Fallback != nil {
		chain = fallback(h.mux, chain, opt.Fallback)
	}
	chain = shed(chain, opt.MaxInFlight, h.metrics, opt.Errors)
	// Outside shed: one address's excess never takes a listener-wide slot.
	chain = shedPerAddr(chain, opt.Limits.MaxInFlightPerAddr, opt.Limits.ClientAddr, h.metrics, opt.Errors)
	// Outside both: a refused request's unread body is bounded too.
	chain = bodyDeadline(chain, opt.Limits.BodyReadTimeout)
	chain = observe(chain, opt.Log, h.metrics, opt.AccessLog == AccessLogOn, opt.Tracing != nil)
	chain = recoverPanics(chain, opt.Log, opt.Errors)
	// Outside recoverPanics: a panic's log line and answer have the id too.
	chain = withRequestState(chain)
	if opt.Tracing != nil {
		server := opt.Server
		if server == "" {
			server = "authgate"
		}
		chain = opt.Tracing.Handler(server, chain)
	}
	h.chain = chain
	return h
}

// ServeHTTP serves a request through the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.chain.ServeHTTP(w, r) }

type requestStateKey struct{}

// requestState is the chain's per-request state, in one allocation: the
// request handed down the chain, a copy of the server's as WithContext
// makes it, and that copy's context, which is the state itself (the
// server's context, Context, plus the state as the value of
// requestStateKey); the status recorder observe wraps the writer in; and
// the request's id, whose array is also the value slice of the answer's
// X-Request-Id header.
type requestState struct {
	context.Context // the server's context of the request
	req             http.Request
	rec             statusRecorder
	id              [1]string
	// callerKey and caller are what a route's guard authenticated
	// (SetCaller).
	callerKey, caller any
}

// Value is the server's context's, with the state under requestStateKey.
// Every other key, the context package's own included, is looked up in
// the server's context, so a context derived from the request's is
// cancelled with it as from the server's (no goroutine to propagate it).
func (st *requestState) Value(key any) any {
	if key == (requestStateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// stateOf returns the chain's state of the request of ctx (nil outside
// the chain).
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// RequestID returns the id of the request (set by the chain).
func RequestID(r *http.Request) string {
	if st := stateOf(r.Context()); st != nil {
		return st.id[0]
	}
	return ""
}

// SetCaller records c, under key, as the caller a route's guard
// authenticated, for the route's handler (CallerOf). It is held in the
// chain's per-request state, so the guard derives no request (a context
// value and a copy of the request) for it. It records nothing and reports
// false when r did not come through the chain or its state already holds
// the caller of another key (a guard inside another's route): the guard
// then carries c in a context value of its own. A key's caller set again
// (the same guard twice on one route) replaces the first.
func SetCaller(r *http.Request, key, c any) bool {
	st := stateOf(r.Context())
	if st == nil || st.callerKey != nil && st.callerKey != key {
		return false
	}
	st.callerKey, st.caller = key, c
	return true
}

// CallerOf returns the caller SetCaller recorded under key for the
// request of ctx.
func CallerOf(ctx context.Context, key any) (any, bool) {
	if st := stateOf(ctx); st != nil && st.callerKey == key && key != nil {
		return st.caller, true
	}
	return nil, false
}

// requestIDs makes the ids of requests without a sane X-Request-Id of
// their own: a random per-process prefix plus a counter, unique without a
// crypto/rand read per request (ids need not be secret).
type requestIDs struct {
	prefix string
	seq    atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

// of returns the caller's X-Request-Id when it is sane, else a fresh id.
func (g *requestIDs) of(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 || !printable(id) {
		var buf [32]byte
		id = string(strconv.AppendUint(append(buf[:0], g.prefix...), g.seq.Add(1), 36))
	}
	return id
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// unrouted answers requests no route takes (404, or 405 with Allow)
// through errs; the mux's own plain-text answers are only kept for its
// redirects (path cleaning).
func unrouted(mux *http.ServeMux, errs ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's answer for this request, headers and status only.
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusNotFound:
			errs(w, r, http.StatusNotFound, core.E(core.KindNotFound, "no such resource"))
		case http.StatusMethodNotAllowed:
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			errs(w, r, http.StatusMethodNotAllowed, core.E(core.KindInvalidInput, "method "+r.Method+" not allowed"))
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// fallback sends the requests no route serves to fb: those for which the
// mux has no pattern and would answer 404 (not 405: the path is a
// built-in route's under another method; not its redirects to a cleaned
// path, which still apply, so fb only sees clean paths). The mux's
// answers are remembered (muxAnswers): it is complete once NewHandler
// has registered the modules and never changes after.
func fallback(mux *http.ServeMux, routed, fb http.Handler) http.Handler {
	return fallbackWith(newMuxAnswers(maxMuxAnswers), mux, routed, fb)
}

func fallbackWith(answers *muxAnswers, mux *http.ServeMux, routed, fb http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, cacheable := muxKeyOf(r)
		unserved, known := false, false
		if cacheable {
			unserved, known = answers.get(k)
		}
		if !known {
			unserved = unservedPath(mux, r)
			if cacheable {
				answers.put(k, unserved)
			}
		}
		if !unserved {
			routed.ServeHTTP(w, r)
			return
		}
		fb.ServeHTTP(w, r)
	})
}

// muxKey is everything of a request the mux's choice depends on: the
// method, the Host, the URL's host (CONNECT) and its path, decoded and
// as sent (the mux matches the escaped form).
type muxKey struct {
	method, host, urlHost, path, rawPath string
}

// maxMuxKeyBytes bounds a remembered key (longer requests are looked up
// every time); maxMuxAnswers bounds their number: at most about 1 MiB.
const (
	maxMuxKeyBytes = 512
	maxMuxAnswers  = 2048
)

func muxKeyOf(r *http.Request) (muxKey, bool) {
	k := muxKey{method: r.Method, host: r.Host, urlHost: r.URL.Host, path: r.URL.Path, rawPath: r.URL.RawPath}
	return k, len(k.method)+len(k.host)+len(k.urlHost)+len(k.path)+len(k.rawPath) <= maxMuxKeyBytes
}

// muxAnswers remembers whether the mux leaves a request unserved, so the
// gateway's requests skip the mux's lookup and its 404 probe. The keys
// are the client's, so the set is bounded: when it is full it starts
// again empty. A client sending endless distinct paths therefore costs
// each of its requests the lookup it costs without the cache plus one
// insertion, and a path others send is remembered again at their next
// request: nobody's request costs more than the lookup.
type muxAnswers struct {
	mu      sync.RWMutex
	entries map[muxKey]bool
	max     int
}

func newMuxAnswers(max int) *muxAnswers {
	return &muxAnswers{entries: make(map[muxKey]bool), max: max}
}

func (c *muxAnswers) get(k muxKey) (unserved, ok bool) {
	c.mu.RLock()
	unserved, ok = c.entries[k]
	c.mu.RUnlock()
	return unserved, ok
}

func (c *muxAnswers) put(k muxKey, unserved bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.entries = make(map[muxKey]bool)
	}
	c.entries[k] = unserved
}

func (c *muxAnswers) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// unservedPath reports whether mux would answer r with its 404.
func unservedPath(mux *http.ServeMux, r *http.Request) bool {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		return false
	}
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	return probe.status == http.StatusNotFound
}

// Serves reports whether a built-in route serves path under some method
// (a route of another method makes the mux answer 405, not 404): the
// gateway refuses routes whose prefix is one.
func (h *Handler) Serves(path string) bool {
	r, err := http.NewRequest(http.MethodGet, "http://authgate.invalid"+path, nil)
	return err != nil || !unservedPath(h.mux, r)
}

// headerProbe records a handler's headers and status and discards its body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header { return p.header }
func (p *headerProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *headerProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}

func recoverPanics(next http.Handler, log *slog.Logger, errs ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", slog.String("path", r.URL.Path), slog.Any("panic", v),
					slog.String("request_id", RequestID(r)), slog.String("stack", string(debug.Stack())))
				errs(w, r, http.StatusInternalServerError, core.E(core.KindInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler, max int64, errs ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Connection", "close")
			errs(w, r, http.StatusRequestEntityTooLarge, core.E(core.KindInvalidInput, "request body larger than "+strconv.FormatInt(max, 10)+" bytes"))
			return
		}
		if r.Body != nil && r.Body != http.NoBody { // nothing to bound (net/http's answer for no body)
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

func shed(next http.Handler, max int, m *metrics, errs ErrorWriter) http.Handler {
	// A counter, not a channel of slots: one atomic add per request instead
	// of a channel's lock taken twice.
	var inFlight atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight.Add(1) <= int64(max) {
			defer inFlight.Add(-1)
			next.ServeHTTP(w, r)
		} else {
			inFlight.Add(-1)
			m.shed.Inc()
			closeIfBody(w, r)
			err := &core.Error{Kind: core.KindUnavailable, Reason: "server overloaded, retry later", RetryAfter: UnavailableRetryAfter}
			SetRetryAfter(w, err)
			errs(w, r, http.StatusServiceUnavailable, err)
		}
	})
}

// statusRecorder remembers the status code for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestState gives each request the chain's state (requestState)
// with the request's id (requestIDs.of), also set as its answer's
// X-Request-Id header.
func withRequestState(next http.Handler) http.Handler {
	ids := newRequestIDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{Context: r.Context()}
		st.id[0] = ids.of(r)
		w.Header()["X-Request-Id"] = st.id[:]
		// The copy WithContext makes is copied into the state: it stays on
		// the stack, and the request, its context and the state are one
		// allocation instead of three.
		st.req = *r.WithContext(st)
		next.ServeHTTP(w, &st.req)
	})
}

// observe records each request's route, status and duration in the
// metrics and, with accessLog, the log; its status recorder is the
// chain's state's (withRequestState).
func observe(next http.Handler, log *slog.Logger, m *metrics, accessLog, traced bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var rec *statusRecorder
		var id string
		if st := stateOf(r.Context()); st != nil {
			st.rec = statusRecorder{ResponseWriter: w}
			rec, id = &st.rec, st.id[0]
		} else { // not under withRequestState: a recorder of its own, no id
			rec = &statusRecorder{ResponseWriter: w}
		}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		// The label is the route's pattern without its method: one series
		// per path however many methods it serves (the code tells them apart).
		route := r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if route == "" {
			route = "unmatched"
		}
		// The server span (Options.Tracing) is named after the route, known
		// only now; without Tracing there is none to look for.
		if traced {
			if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
		}
		m.observe(route, rec.status, elapsed)
		if !accessLog {
			return
		}
		// The query string is never logged: several protocols carry
		// signatures and tokens in it.
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes), slog.Duration("took", elapsed), slog.String("remote", r.RemoteAddr),
			slog.String("request_id", id))
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	shed     prometheus.Counter
	shedAddr prometheus.Counter
	connsCut prometheus.Counter
	// children caches the labelled series per route and status, so the hot
	// path skips the label hashing of WithLabelValues.
	children sync.Map // routeStatus -> *routeSeries
}

type routeStatus struct {
	route  string
	status int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) observe(route string, status int, elapsed time.Duration) {
	k := routeStatus{route, status}
	v, ok := m.children.Load(k)
	if !ok {
		v, _ = m.children.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	s := v.(*routeSeries)
	s.requests.Inc()
	s.duration.Observe(elapsed.Seconds())
}

// NewMetricsHandler serves GET /metrics from reg and nothing else, for
// the metrics_listen listener.
func NewMetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg))
	return mux
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authgate_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12)}, []string{"route"}),
		shed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "authgate_http_shed_total", Help: "Requests refused because too many were in flight."}),
		shedAddr: prometheus.NewCounter(prometheus.CounterOpts{Name: "authgate_http_shed_per_address_total", Help: "Requests refused because too many were in flight from their client address."}),
		connsCut: prometheus.NewCounter(prometheus.CounterOpts{Name: "authgate_http_connections_refused_total", Help: "Connections closed at accept because their peer address had too many open."}),
	}
	reg.MustRegister(m.requests, m.duration, m.shed, m.shedAddr, m.connsCut)
	return m
}
