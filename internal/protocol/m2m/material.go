package m2m

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/sdk/wss"
)

// Material is an environment's keys, certificates and partners, loaded.
// Tests build it in memory; LoadMaterial reads it from the files named in
// the configuration.
type Material struct {
	// TLS is the SSL server certificate of the listener.
	TLS tls.Certificate
	// SigningKey and SigningCert sign every message authgate sends.
	SigningKey  *rsa.PrivateKey
	SigningCert *x509.Certificate
	// TrustedCAs issue partners' signing certificates (nil: pinned only);
	// TrustedCACerts are the same certificates, listed.
	TrustedCAs     *x509.CertPool
	TrustedCACerts []*x509.Certificate
	// Checkers are asked about every signing certificate (CRL files);
	// NewEnv adds the check against authgate's CA (Deps.CA).
	Checkers []wssec.CertificateChecker
	// CallbackCAs verify partners' SSL servers (nil: system roots).
	CallbackCAs *x509.CertPool
	// MaxTimestampTTL is the longest Timestamp lifetime accepted from
	// partners that set none (0: Config.TimestampTTL).
	MaxTimestampTTL time.Duration
	Partners        []Partner
}

// Partner is one partner of one environment.
type Partner struct {
	Name            string
	SigningCerts    []*x509.Certificate
	SigningSubjects []string
	// SigningCA issued the certificates of SigningSubjects matches.
	SigningCA *x509.Certificate
	AdmClURL  string
	MonClURL  string
	// MaxTimestampTTL is the longest Timestamp lifetime accepted from this
	// partner (0: Material.MaxTimestampTTL).
	MaxTimestampTTL time.Duration
	// SenderID and PartnerID are the partner's identifiers (config
	// sender_id, partner_id); "" when none was given.
	SenderID, PartnerID string
}

// LoadMaterial reads the files of one environment.
func LoadMaterial(e EnvConfig) (Material, error) {
	m := Material{MaxTimestampTTL: e.MaxTimestampTTL}
	var err error
	if m.TLS, err = tls.LoadX509KeyPair(e.TLSCert, e.TLSKey); err != nil {
		return m, fmt.Errorf("tls_cert/tls_key: %w", err)
	}
	if m.SigningKey, m.SigningCert, err = wss.LoadKeyPair(e.SigningCert, e.SigningKey); err != nil {
		return m, fmt.Errorf("signing_cert/signing_key: %w", err)
	}
	if len(e.TrustedCAs) > 0 {
		cas, err := wss.LoadCertificates(e.TrustedCAs...)
		if err != nil {
			return m, fmt.Errorf("trusted_cas: %w", err)
		}
		m.TrustedCAs, m.TrustedCACerts = wss.CertPool(cas), cas
	}
	if len(e.CallbackCAs) > 0 {
		cas, err := wss.LoadCertificates(e.CallbackCAs...)
		if err != nil {
			return m, fmt.Errorf("callback_cas: %w", err)
		}
		m.CallbackCAs = wss.CertPool(cas)
	}
	for _, pc := range e.Partners {
		p := Partner{Name: pc.Name, SigningSubjects: pc.SigningSubjects, AdmClURL: pc.AdmClURL, MonClURL: pc.MonClURL,
			MaxTimestampTTL: pc.MaxTimestampTTL, SenderID: pc.SenderID, PartnerID: pc.PartnerID}
		if len(pc.SigningCerts) > 0 {
			if p.SigningCerts, err = wss.LoadCertificates(pc.SigningCerts...); err != nil {
				return m, fmt.Errorf("partner %s: %w", pc.Name, err)
			}
		}
		if pc.SigningCA != "" {
			cas, err := wss.LoadCertificates(pc.SigningCA)
			if err != nil || len(cas) != 1 {
				return m, fmt.Errorf("partner %s: signing_ca must hold one certificate: %v", pc.Name, err)
			}
			p.SigningCA = cas[0]
		}
		m.Partners = append(m.Partners, p)
	}
	return m, nil
}

// CheckSeparated compares the loaded material of TA and PE by content:
// the same TLS or signing key, or the same partner certificate, in both
// environments is refused even when the files differ.
func CheckSeparated(ta, pe Material) error {
	var errs []error
	fp := func(c *x509.Certificate) [32]byte { return sha256.Sum256(c.Raw) }
	tlsKey := func(m Material) []byte {
		if len(m.TLS.Certificate) == 0 {
			return nil
		}
		c, err := x509.ParseCertificate(m.TLS.Certificate[0])
		if err != nil {
			return nil
		}
		return c.RawSubjectPublicKeyInfo
	}
	if a, b := tlsKey(ta), tlsKey(pe); a != nil && bytes.Equal(a, b) {
		errs = append(errs, errors.New("ta and pe use the same TLS key"))
	}
	if ta.SigningKey != nil && pe.SigningKey != nil && ta.SigningKey.PublicKey.Equal(&pe.SigningKey.PublicKey) {
		errs = append(errs, errors.New("ta and pe use the same signing key"))
	}
	peCAs := map[[32]byte]bool{}
	for _, c := range pe.TrustedCACerts {
		peCAs[fp(c)] = true
	}
	for _, c := range ta.TrustedCACerts {
		if peCAs[fp(c)] {
			errs = append(errs, fmt.Errorf("ta and pe both trust the CA %q: each environment needs its own issuing CA", c.Subject))
		}
	}
	taCerts := map[[32]byte]string{}
	for _, p := range ta.Partners {
		for _, c := range p.SigningCerts {
			taCerts[fp(c)] = p.Name
		}
	}
	for _, p := range pe.Partners {
		for _, c := range p.SigningCerts {
			if name, ok := taCerts[fp(c)]; ok {
				errs = append(errs, fmt.Errorf("partner %s's pe signing certificate is also partner %s's ta certificate", p.Name, name))
			}
		}
	}
	return errors.Join(errs...)
}
