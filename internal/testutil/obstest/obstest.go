// Package obstest observes a test server the way the composition root
// does (telemetry.Tee of the Prometheus metrics and the dashboard's
// per-minute counters) and reads back what was counted, so an adapter's
// tests can check that one request moves authgate_auth_total, the
// limiter counter and the dashboard's counts by exactly one.
package obstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/telemetry"
)

// Probe is one test server's observers and their readings.
type Probe struct {
	reg    *prometheus.Registry
	recent *telemetry.Recent
	obs    core.Observer
}

// New builds the observers on clock (the services' clock, so the
// dashboard's minutes follow a manual clock).
func New(clock core.Clock) *Probe {
	reg := prometheus.NewPedanticRegistry()
	recent := telemetry.NewRecent(clock)
	return &Probe{reg: reg, recent: recent, obs: telemetry.Tee(telemetry.NewMetrics(reg), recent)}
}

// Observe makes svc (and the services sharing its token, replay and
// limiter services) report to the probe and returns it: call it in the
// agtest module builder, before the adapters take svc.
func (p *Probe) Observe(svc core.Services) core.Services {
	svc.SetObserver(p.obs)
	return svc
}

// Observer is the probe's observer.
func (p *Probe) Observer() core.Observer { return p.obs }

// Reading is what was counted for one family and scheme so far.
type Reading struct {
	// Auth is authgate_auth_total by result and reason ("success/ok",
	// "failure/unauthenticated", ...).
	Auth map[string]float64
	// Limited is authgate_auth_limiter_refused_total.
	Limited float64
	// Recent is the dashboard's family (GET /admin/stats families[]).
	Recent telemetry.FamilyCounts
}

// Read gathers the counters of family and scheme.
func (p *Probe) Read(t testing.TB, family, scheme string) Reading {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	r := Reading{Auth: map[string]float64{}}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			if l["family"] != family || l["scheme"] != scheme {
				continue
			}
			switch mf.GetName() {
			case "authgate_auth_total":
				r.Auth[l["result"]+"/"+l["reason"]] += m.GetCounter().GetValue()
			case "authgate_auth_limiter_refused_total":
				r.Limited += m.GetCounter().GetValue()
			}
		}
	}
	for _, f := range p.recent.Snapshot() {
		if f.Family == family {
			r.Recent = f
		}
	}
	return r
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// Delta is what changed from before to after: each authgate_auth_total
// series that moved, the limiter's count and the dashboard's.
type Delta struct {
	Auth                       map[string]float64
	Limited                    float64
	Requests, Denials, Refused int64 // Refused: the dashboard's limited
}

// Since returns what moved between before and after.
func Since(before, after Reading) Delta {
	d := Delta{Auth: map[string]float64{}, Limited: after.Limited - before.Limited,
		Requests: after.Recent.Requests - before.Recent.Requests, Denials: after.Recent.Denials - before.Recent.Denials,
		Refused: after.Recent.Limited - before.Recent.Limited}
	for k, v := range after.Auth {
		if v != before.Auth[k] {
			d.Auth[k] = v - before.Auth[k]
		}
	}
	return d
}

// Lint fails t when the gathered metrics break the Prometheus naming
// conventions (promlint).
func (p *Probe) Lint(t testing.TB) {
	t.Helper()
	if problems, err := testutil.GatherAndLint(p.reg); err != nil || len(problems) > 0 {
		t.Fatalf("metrics lint: %v %v", problems, err)
	}
}

// Once runs do and fails t unless do was counted as exactly one
// authentication of family and scheme, with outcome want ("success/ok"
// or "failure/<kind>"), by authgate_auth_total and by the dashboard (one
// request; one denial for a failure). A "failure/rate_limited" outcome
// must be the failed-authentication limiter's: one refusal of the same
// family and scheme on authgate_auth_limiter_refused_total and one
// limited on the dashboard; any other outcome none.
func (p *Probe) Once(t testing.TB, family, scheme, want string, do func()) {
	t.Helper()
	before := p.Read(t, family, scheme)
	do()
	d := Since(before, p.Read(t, family, scheme))
	if len(d.Auth) != 1 || d.Auth[want] != 1 {
		t.Errorf("%s/%s: authgate_auth_total moved by %v, want %s by 1", family, scheme, d.Auth, want)
	}
	denials, limited := int64(0), int64(0)
	if want != "success/ok" {
		denials = 1
	}
	if want == "failure/rate_limited" {
		limited = 1
	}
	if d.Requests != 1 || d.Denials != denials || d.Refused != limited {
		t.Errorf("%s/%s: the dashboard counted %d requests, %d denials, %d limited; want 1, %d, %d",
			family, scheme, d.Requests, d.Denials, d.Refused, denials, limited)
	}
	if d.Limited != float64(limited) {
		t.Errorf("%s/%s: authgate_auth_limiter_refused_total moved by %v, want %d", family, scheme, d.Limited, limited)
	}
}
