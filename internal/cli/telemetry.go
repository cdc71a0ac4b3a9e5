package cli

import (
	"context"
	"crypto/x509"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/store/sqlstore"
	"github.com/authgate/authgate/internal/telemetry"
)

// caScrapeTimeout bounds the CA certificates' read at a scrape.
const caScrapeTimeout = 2 * time.Second

// registerTelemetry puts the core's observations, the store's latency,
// pools and outbox depth on reg, before any family is built (families
// copy the services, Observer included). The returned collector takes the
// served certificates as the listeners come up.
func registerTelemetry(rt *runtime, reg prometheus.Registerer) *telemetry.CertificateExpiry {
	rt.svc.SetObserver(telemetry.NewMetrics(reg))
	if s, ok := rt.svc.Store.(interface {
		SetLatencyObserver(sqlstore.LatencyObserver)
	}); ok {
		s.SetLatencyObserver(telemetry.NewStoreLatency(reg))
	}
	if s, ok := rt.svc.Store.(interface{ DB() *sql.DB }); ok {
		telemetry.RegisterPools(reg, map[string]*sql.DB{"store": s.DB()})
	}
	telemetry.NewOutbox(reg, rt.svc.Store, rt.svc.Clock)
	return telemetry.NewCertificateExpiry(reg)
}

// caCertificates is the CA's certificates (root and issuing CAs) as a
// metrics source; an uninitialised CA has none.
func caCertificates(a *ca.Authority) telemetry.CertificateSource {
	return func() []*x509.Certificate {
		ctx, cancel := context.WithTimeout(context.Background(), caScrapeTimeout)
		defer cancel()
		root, err := a.Root(ctx)
		if err != nil {
			return nil
		}
		inter, err := a.Intermediates(ctx)
		if err != nil {
			return []*x509.Certificate{root}
		}
		return append([]*x509.Certificate{root}, inter...)
	}
}
