package m2m

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"

	"github.com/authgate/authgate/sdk/wss"
)

// Sheet is the data-exchange sheet of one partner in one environment:
// what the setup document's section 2.2 says the platform provides (items
// A-K) and, for checking, what authgate registered from the partner (2.1,
// items 1-8). Certificates are given whole (PEM) with their SHA-256
// fingerprints, to be compared over another channel.
type Sheet struct {
	Env, Partner string
	// TLSCert is the SSL server certificate (A/C), SigningCert the
	// signature certificate (B/D).
	TLSCert, SigningCert *x509.Certificate
	// AdmURL and MonURL are the M2MAdm and M2MMon access points (E-H).
	AdmURL, MonURL string
	// APIKey is the M2MApiKey (J/9) when it was issued for this sheet;
	// otherwise the sheet says where it is shown (once, when issued).
	APIKey string
	// SenderID is the SOA-BP sender ID (K), PartnerID the M2M partner
	// identifier; "" when not configured.
	SenderID, PartnerID string
	// What authgate holds from the partner.
	PartnerCerts    []*x509.Certificate
	PartnerSubjects []string
	AdmClURL        string
	MonClURL        string
}

// NewSheet builds the sheet of partner in env from the configuration,
// reading only certificates (never a private key).
func NewSheet(cfg Config, env, partner string) (Sheet, error) {
	env = strings.ToUpper(env)
	ec, ok := cfg.Envs()[env]
	if !ok {
		return Sheet{}, fmt.Errorf("environment must be TA or PE, not %q", env)
	}
	p := strings.ToLower(env) + "."
	if ec.Listen == "" {
		return Sheet{}, fmt.Errorf("m2m.%slisten is not set: the %s environment is not served", p, env)
	}
	var pc *PartnerConfig
	for i := range ec.Partners {
		if ec.Partners[i].Name == partner {
			pc = &ec.Partners[i]
		}
	}
	if pc == nil {
		return Sheet{}, fmt.Errorf("no partner %q in m2m.%spartners", partner, p)
	}
	one := func(path, key string) (*x509.Certificate, error) {
		certs, err := wss.LoadCertificates(path)
		if err != nil {
			return nil, fmt.Errorf("m2m.%s%s: %w", p, key, err)
		}
		return certs[0], nil
	}
	s := Sheet{Env: env, Partner: partner, SenderID: pc.SenderID, PartnerID: pc.PartnerID,
		PartnerSubjects: pc.SigningSubjects, AdmClURL: pc.AdmClURL, MonClURL: pc.MonClURL}
	var err error
	if s.TLSCert, err = one(ec.TLSCert, "tls_cert"); err != nil {
		return Sheet{}, err
	}
	if s.SigningCert, err = one(ec.SigningCert, "signing_cert"); err != nil {
		return Sheet{}, err
	}
	if len(pc.SigningCerts) > 0 {
		if s.PartnerCerts, err = wss.LoadCertificates(pc.SigningCerts...); err != nil {
			return Sheet{}, fmt.Errorf("m2m.%spartners[%s].signing_certs: %w", p, partner, err)
		}
	}
	base := strings.TrimSuffix(ec.PublicURL, "/")
	if base == "" {
		base = "https://" + ec.Listen
	}
	s.AdmURL, s.MonURL = base+PathAdm, base+PathMon
	return s, nil
}

// sheetItems are the setup document's item letters and digits per environment.
var sheetItems = map[string]struct{ ssl, sign, adm, mon, key, partnerSign, admCl, monCl string }{
	EnvTA: {"A", "B", "E", "F", "J", "1", "5", "6"},
	EnvPE: {"C", "D", "G", "H", "9", "3", "7", "8"},
}

// Fingerprint is a certificate's SHA-256 fingerprint as openssl prints it
// (upper-case hex pairs joined by colons).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// WriteText prints the sheet for a person to send to the partner.
func (s Sheet) WriteText(w io.Writer) error {
	it := sheetItems[s.Env]
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	cert := func(item, what string, c *x509.Certificate) {
		line("%-2s %s", item, what)
		line("   Subject:  %s", c.Subject)
		line("   Issuer:   %s", c.Issuer)
		line("   Valid:    %s to %s", c.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
		line("   SHA-256:  %s", Fingerprint(c))
		for _, l := range strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))), "\n") {
			line("   %s", l)
		}
	}
	orNone := func(v string) string {
		if v == "" {
			return "(not configured)"
		}
		return v
	}
	line("M2M Connectivity API data-exchange sheet")
	line("Partner:      %s", s.Partner)
	line("Environment:  %s", s.Env)
	line("")
	line("Provided by the platform")
	line("")
	cert(it.ssl, "SSL server certificate ("+s.Env+")", s.TLSCert)
	line("")
	cert(it.sign, "Signature certificate ("+s.Env+"): pin it to verify every message the platform sends", s.SigningCert)
	line("")
	line("%-2s M2MAdm access point (%s):  %s  (WSDL: %s?wsdl)", it.adm, s.Env, s.AdmURL, s.AdmURL)
	line("%-2s M2MMon access point (%s):  %s  (WSDL: %s?wsdl)", it.mon, s.Env, s.MonURL, s.MonURL)
	if s.APIKey != "" {
		line("%-2s M2MApiKey (%s):  %s", it.key, s.Env, s.APIKey)
		line("   Shown once, on this sheet only: authgate keeps only a hash of it.")
	} else {
		line("%-2s M2MApiKey (%s):  not on this sheet. It is shown once, when issued:", it.key, s.Env)
		line("   `authgate m2m partner sheet %s --env %s --new-api-key` (or `authgate m2m apikey --env %s --partner %s`)", s.Partner, s.Env, s.Env, s.Partner)
		line("   issues a new key and prints it once; keys issued before stay valid until revoked")
		line("   (`authgate admin credential revoke`).")
	}
	line("K  SOA-BP sender ID (API sender identifier):  %s", orNone(s.SenderID))
	line("   M2M partner identifier:                   %s", orNone(s.PartnerID))
	line("")
	line("Registered from the partner")
	line("")
	for _, c := range s.PartnerCerts {
		line("%-2s Signature certificate (%s), pinned", it.partnerSign, s.Env)
		line("   Subject:  %s", c.Subject)
		line("   SHA-256:  %s", Fingerprint(c))
	}
	for _, subj := range s.PartnerSubjects {
		line("%-2s Signature certificate (%s) by subject:  %s", it.partnerSign, s.Env, subj)
	}
	line("%-2s M2MAdmCl access point (%s):  %s", it.admCl, s.Env, orNone(s.AdmClURL))
	line("%-2s M2MMonCl access point (%s):  %s", it.monCl, s.Env, orNone(s.MonClURL))
	_, err := io.WriteString(w, b.String())
	return err
}
