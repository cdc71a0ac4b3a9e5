package device

import (
	"errors"
	"time"
)

// Config is the `identities` section of authgate's
// configuration: device identities (certificates from the built-in CA
// and pre-shared keys) and the mutual-TLS listener devices use.
type Config struct {
	// MTLSListen is host:port of the mutual-TLS listener ("" for none).
	// Devices presenting a certificate from authgate's CA (device
	// profile) are authenticated as themselves there, and may use
	// client_credentials with the certificate as client authentication
	// (RFC 8705 tls_client_auth).
	MTLSListen string `yaml:"mtls_listen"`
	// TLSCert and TLSKey are the listener's server certificate and key
	// (PEM files); required with MTLSListen.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// CertificateValidity is the lifetime of device certificates (default
	// one year; never beyond the CA's maximum).
	CertificateValidity time.Duration `yaml:"certificate_validity"`
}

// DefaultConfig returns the defaults (no mTLS listener).
func DefaultConfig() Config {
	return Config{CertificateValidity: 365 * 24 * time.Hour}
}

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if c.MTLSListen != "" && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, errors.New("identities.mtls_listen needs identities.tls_cert and identities.tls_key"))
	}
	if c.CertificateValidity < time.Hour || c.CertificateValidity > 1096*24*time.Hour {
		errs = append(errs, errors.New("identities.certificate_validity must be between 1h and 26304h (three years)"))
	}
	return errors.Join(errs...)
}
