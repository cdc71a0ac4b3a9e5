package gateway_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
)

// TestMetrics: per route, requests, denials by scheme and reason,
// upstream statuses, latency and failures, in the registry given.
func TestMetrics(t *testing.T) {
	up := newUpstream(t, "one")
	up.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	down := newUpstream(t, "down")
	down.Close()
	api := route("api", "/api")
	api.Upstreams = []string{up.URL}
	dn := route("down", "/down")
	dn.Upstreams = []string{down.URL}
	reg := prometheus.NewRegistry()
	f := newFixtureWith(t, func(d *gateway.Deps) { d.Metrics = reg }, api, dn)
	base := f.serve(t, httpapi.Limits{})
	call(t, "GET", base+"/api/ok", nil, "X-Test-Bearer", "alice")
	call(t, "GET", base+"/api/busy", nil, "X-Test-Bearer", "alice")
	call(t, "GET", base+"/api/x", nil)                            // no credential
	call(t, "GET", base+"/api/x", nil, "X-Test-Bearer", "nobody") // unknown credential
	call(t, "GET", base+"/api/x", nil, "X-Test-Bearer", "nokind") // refused by the privilege table
	call(t, "GET", base+"/nowhere", nil, "X-Test-Bearer", "alice")
	call(t, "GET", base+"/down", nil, "X-Test-Bearer", "alice")

	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, f := range mf {
			if f.GetName() != name {
				continue
			}
		next:
			for _, m := range f.GetMetric() {
				if len(m.GetLabel()) != len(labels) {
					continue
				}
				for _, l := range m.GetLabel() {
					if labels[l.GetName()] != l.GetValue() {
						continue next
					}
				}
				if h := m.GetHistogram(); h != nil {
					return float64(h.GetSampleCount())
				}
				return m.GetCounter().GetValue()
			}
		}
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"authgate_gateway_requests_total", map[string]string{"route": "api"}, 5},
		{"authgate_gateway_requests_total", map[string]string{"route": "down"}, 1},
		{"authgate_gateway_denials_total", map[string]string{"route": "api", "scheme": "oauth2-bearer", "reason": "unauthenticated"}, 2},
		{"authgate_gateway_denials_total", map[string]string{"route": "api", "scheme": "oauth2-bearer", "reason": "forbidden"}, 1},
		{"authgate_gateway_denials_total", map[string]string{"route": "none", "scheme": "", "reason": "not_found"}, 1},
		{"authgate_gateway_upstream_responses_total", map[string]string{"route": "api", "code": "200"}, 1},
		{"authgate_gateway_upstream_responses_total", map[string]string{"route": "api", "code": "503"}, 1},
		{"authgate_gateway_upstream_duration_seconds", map[string]string{"route": "api"}, 2},
		{"authgate_gateway_upstream_errors_total", map[string]string{"route": "down", "reason": "unreachable"}, 1},
	} {
		if got := get(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "authgate_gateway_denials_total"); n != 3 {
		t.Errorf("%d denial series, want 3", n)
	}
	if problems, err := promlint.NewWithMetricFamilies(mf).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
