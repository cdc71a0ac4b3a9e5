package cli

import (
	"context"
	"crypto/x509"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/store/sqlstore"
	"github.com/authgate/authgate/internal/telemetry"
)

// caScrapeTimeout bounds the CA certificates' read at a scrape.
const caScrapeTimeout = 2 * time.Second

// registerTelemetry puts the core's observations, the store's latency,
// pools and outbox depth on reg, and the observations also on the
// dashboard's per-minute counters (returned), before any family is built
// (families copy the services, Observer included). The returned collector
// takes the served certificates as the listeners come up.
func registerTelemetry(rt *runtime, reg prometheus.Registerer) (*telemetry.CertificateExpiry, *telemetry.Recent) {
	recent := telemetry.NewRecent(rt.svc.Clock)
	rt.svc.SetObserver(telemetry.Tee(telemetry.NewMetrics(reg), recent))
	if s, ok := rt.svc.Store.(interface {
		SetLatencyObserver(sqlstore.LatencyObserver)
	}); ok {
		s.SetLatencyObserver(telemetry.NewStoreLatency(reg))
	}
	if s, ok := rt.svc.Store.(interface{ DB() *sql.DB }); ok {
		telemetry.RegisterPools(reg, map[string]*sql.DB{"store": s.DB()})
	}
	telemetry.NewOutbox(reg, rt.svc.Store, rt.svc.Clock)
	// The replay mode is chosen before modules are built (useReplayMode).
	if replay := rt.svc.Replay; replay.InMemory() {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authgate_replay_cache_keys",
			Help: "Replay keys held in memory (replay.mode memory; bounded by replay.max_keys)."},
			func() float64 { n, _ := replay.MemoryKeys(); return float64(n) }))
	}
	return telemetry.NewCertificateExpiry(reg), recent
}

// startTracing builds the tracer provider from the tracing section and
// hands its tracer to the services and the store, before any family is
// built (families copy the services).
func startTracing(ctx context.Context, rt *runtime) (*telemetry.Tracing, error) {
	c := rt.cfg.Tracing
	t, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{Enabled: c.Enabled, Endpoint: c.Endpoint,
		ServiceName: c.ServiceName, SampleRatio: c.SampleRatio, Version: Version})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if c.Enabled {
		rt.svc.Tracer = t.Tracer()
		if s, ok := rt.svc.Store.(interface{ SetTracer(trace.Tracer) }); ok {
			s.SetTracer(t.Tracer())
		}
		rt.log.Info("tracing", slog.String("endpoint", c.Endpoint), slog.Float64("sample_ratio", c.SampleRatio))
	}
	return t, nil
}

// issuedExpiring is the CA's issued certificates as the dashboard's source.
func issuedExpiring(a *ca.Authority) telemetry.IssuedSource {
	return func(ctx context.Context, now, until time.Time) ([]telemetry.ExpiringCertificate, bool, error) {
		recs, truncated, err := a.Expiring(ctx, now, until, telemetry.MaxIssuedScanned)
		out := make([]telemetry.ExpiringCertificate, 0, len(recs))
		for _, r := range recs {
			out = append(out, telemetry.ExpiringCertificate{Source: "issued", Subject: r.Subject, Serial: r.Serial, NotAfter: r.NotAfter})
		}
		return out, truncated, err
	}
}

// caCertificates is the CA's certificates (roots and issuing CAs of the
// current generation and of the previous one while kept) as a
// metrics source; an uninitialised CA has none.
func caCertificates(a *ca.Authority) telemetry.CertificateSource {
	return func() []*x509.Certificate {
		ctx, cancel := context.WithTimeout(context.Background(), caScrapeTimeout)
		defer cancel()
		certs, err := a.Certificates(ctx)
		if err != nil {
			return nil
		}
		return certs
	}
}
