package telemetry

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/core"
)

// Metrics is the core.Observer that counts into Prometheus.
type Metrics struct {
	auth     *prometheus.CounterVec
	issued   *prometheus.CounterVec
	revoked  prometheus.Counter
	replays  *prometheus.CounterVec
	limited  *prometheus.CounterVec
	children sync.Map // authKey -> prometheus.Counter: the hot path skips the label hash
}

var _ core.Observer = (*Metrics)(nil)

type authKey struct{ family, scheme, result, reason string }

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_auth_total",
			Help: "Authentications by protocol family, scheme, result (success or failure) and reason (the error kind; ok on success)."},
			[]string{"family", "scheme", "result", "reason"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_tokens_issued_total",
			Help: "Tokens issued, by kind."}, []string{"kind"}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{Name: "authgate_tokens_revoked_total",
			Help: "Tokens revoked (one at a time, or with their family, principal or credential)."}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_replay_refused_total",
			Help: "Messages the replay cache refused because they were seen before, by namespace."}, []string{"namespace"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authgate_auth_limiter_refused_total",
			Help: "Authentication attempts the failed-authentication limiter refused, by protocol family and scheme (or grant)."},
			[]string{"family", "scheme"}),
	}
	reg.MustRegister(m.auth, m.issued, m.revoked, m.replays, m.limited)
	return m
}

// AuthOutcome implements core.Observer. The reason is the error's kind, a
// closed set, so the label cannot grow with what clients send.
func (m *Metrics) AuthOutcome(family, scheme string, err error) {
	k := authKey{family, scheme, core.OutcomeSuccess, "ok"}
	if err != nil {
		k.result, k.reason = core.OutcomeFailure, core.KindOf(err).String()
	}
	c, ok := m.children.Load(k)
	if !ok {
		c, _ = m.children.LoadOrStore(k, m.auth.WithLabelValues(k.family, k.scheme, k.result, k.reason))
	}
	c.(prometheus.Counter).Inc()
}

// TokensIssued implements core.Observer.
func (m *Metrics) TokensIssued(kind core.TokenKind, n int) {
	m.issued.WithLabelValues(string(kind)).Add(float64(n))
}

// TokensRevoked implements core.Observer.
func (m *Metrics) TokensRevoked(n int) {
	if n > 0 {
		m.revoked.Add(float64(n))
	}
}

// ReplayRefused implements core.Observer. Namespaces are the adapters'
// constants (jti, tpv, pop, ...), never client input.
func (m *Metrics) ReplayRefused(namespace string) { m.replays.WithLabelValues(namespace).Inc() }

// AuthLimited implements core.Observer. Family and scheme are the
// adapters' constants (core.Attempt), never client input.
func (m *Metrics) AuthLimited(family, scheme string) {
	m.limited.WithLabelValues(family, scheme).Inc()
}
