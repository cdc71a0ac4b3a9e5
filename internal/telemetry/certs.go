package telemetry

import (
	"crypto/x509"
	"encoding/hex"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// CertificateSource lists the certificates one holder serves or signs with
// now. It is called at every scrape, so a certificate reloaded on SIGHUP
// or rolled over is reported as it is, not as it was at start-up.
type CertificateSource func() []*x509.Certificate

// CertificateExpiry is the collector of
// authgate_certificate_expiry_timestamp_seconds: one series per
// certificate of every registered source, labelled with the source
// ("listener:main", "ca:device", ...), the subject and the serial.
type CertificateExpiry struct {
	mu      sync.Mutex
	sources map[string]CertificateSource
	desc    *prometheus.Desc
}

var _ prometheus.Collector = (*CertificateExpiry)(nil)

// NewCertificateExpiry registers the collector on reg.
func NewCertificateExpiry(reg prometheus.Registerer) *CertificateExpiry {
	c := &CertificateExpiry{sources: map[string]CertificateSource{},
		desc: prometheus.NewDesc("authgate_certificate_expiry_timestamp_seconds",
			"When a served or CA certificate expires (NotAfter), as a Unix time.",
			[]string{"source", "subject", "serial"}, nil)}
	reg.MustRegister(c)
	return c
}

// Add registers a source under name, replacing one of the same name.
func (c *CertificateExpiry) Add(name string, src func() []*x509.Certificate) {
	if c == nil || src == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources[name] = src
}

// Describe implements prometheus.Collector.
func (c *CertificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *CertificateExpiry) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := make(map[string]CertificateSource, len(c.sources))
	for k, v := range c.sources {
		sources[k] = v
	}
	c.mu.Unlock()
	type seen struct{ source, serial string }
	done := map[seen]bool{}
	for name, src := range sources {
		for _, cert := range src() {
			if cert == nil {
				continue
			}
			serial := hex.EncodeToString(cert.SerialNumber.Bytes())
			if done[seen{name, serial}] {
				continue // a chain may repeat a certificate
			}
			done[seen{name, serial}] = true
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()),
				name, cert.Subject.String(), serial)
		}
	}
}

// SourcedCertificate is one certificate of a registered source.
type SourcedCertificate struct {
	Source string
	Cert   *x509.Certificate
}

// All lists every source's certificates now (a chain's repeated
// certificate once per source), sources in name order.
func (c *CertificateExpiry) All() []SourcedCertificate {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	names := make([]string, 0, len(c.sources))
	sources := make(map[string]CertificateSource, len(c.sources))
	for k, v := range c.sources {
		names = append(names, k)
		sources[k] = v
	}
	c.mu.Unlock()
	sort.Strings(names)
	var out []SourcedCertificate
	for _, name := range names {
		seen := map[string]bool{}
		for _, cert := range sources[name]() {
			if cert == nil {
				continue
			}
			serial := hex.EncodeToString(cert.SerialNumber.Bytes())
			if !seen[serial] {
				seen[serial] = true
				out = append(out, SourcedCertificate{Source: name, Cert: cert})
			}
		}
	}
	return out
}
