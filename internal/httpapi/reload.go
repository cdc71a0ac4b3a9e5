package httpapi

import (
	"crypto/tls"
	"crypto/x509"

	"fmt"
	"sync/atomic"
	"time"
)

// Reloadable is one thing a running server re-reads when asked (SIGHUP):
// certificates and keys of a listener, CRL files. Reload keeps what was
// in force when the new material does not load, and says why.
type Reloadable struct {
	Name   string // what, for the log line ("tls (main)", "m2m ta crl_files")
	Reload func() error
}

// CertFiles is a TLS certificate and key read from files and served
// through tls.Config.GetCertificate, so Reload swaps it for every new
// handshake while connections already open keep theirs.
type CertFiles struct {
	certFile, keyFile string
	now               func() time.Time
	check             func(*tls.Certificate) error
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertFiles reads the pair now; now (nil: time.Now) dates the
// expiry check of later reloads.
func LoadCertFiles(certFile, keyFile string, now func() time.Time) (*CertFiles, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return NewCertFiles(certFile, keyFile, pair, now), nil
}

// NewCertFiles serves initial (already read from the files) until the
// first Reload.
func NewCertFiles(certFile, keyFile string, initial tls.Certificate, now func() time.Time) *CertFiles {
	if now == nil {
		now = time.Now
	}
	c := &CertFiles{certFile: certFile, keyFile: keyFile, now: now}
	c.cur.Store(&initial)
	return c
}

// SetCheck adds a rule a reloaded pair must pass before it is served
// (M2M: TA and PE never share a key). Call before serving.
func (c *CertFiles) SetCheck(fn func(*tls.Certificate) error) { c.check = fn }

// GetCertificate implements tls.Config.GetCertificate.
func (c *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Current is the pair served now.
func (c *CertFiles) Current() *tls.Certificate { return c.cur.Load() }

// TLSConfig is a listener configuration serving the pair.
func (c *CertFiles) TLSConfig() *tls.Config {
	return HandshakeAsBuilt(&tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate})
}

// HandshakeAsBuilt makes every handshake use cfg as it is now, through
// GetConfigForClient: crypto/tls prefers Certificates over GetCertificate
// when the client sends no SNI (any IP-address client), so a copy of cfg
// given Certificates later (httptest.Server.StartTLS adds its own) would
// otherwise never call GetCertificate again, and a reload would not be
// seen. cfg must not change once it serves.
func HandshakeAsBuilt(cfg *tls.Config) *tls.Config {
	built := cfg.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return built, nil }
	return cfg
}

// Reload reads the files again. A pair that does not load, whose key
// does not match, that has expired or fails the check leaves the current
// one in place.
func (c *CertFiles) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("%s / %s: %w (the previous certificate stays)", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("%s: %w (the previous certificate stays)", c.certFile, err)
		}
	}
	if now := c.now(); now.After(leaf.NotAfter) {
		return fmt.Errorf("%s expired at %s (the previous certificate stays)", c.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if c.check != nil {
		if err := c.check(&pair); err != nil {
			return fmt.Errorf("%s: %w (the previous certificate stays)", c.certFile, err)
		}
	}
	c.cur.Store(&pair)
	return nil
}
