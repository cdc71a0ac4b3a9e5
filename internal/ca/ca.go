// Package ca is authgate's built-in certificate authority for the M2M
// family: it issues partner certificates from PKCS#10 requests by profile
// (WSS signing, SSL server, device) under the policy of the M2M setup
// document (x509 v3, RSA >= 2048, keyUsage/extendedKeyUsage per profile,
// partner subject, OU M2M_TA for the test-and-approval environment and M2M
// for production, at most three years), records what it issued, revokes,
// and publishes a signed CRL.
//
// Key storage: the CA keys live in the database, in the core document
// "ca"/"authority", sealed with core.Keyring (AES-256-GCM under the master
// key, bound to the certificate they belong to). That way every node of a
// cluster signs with the same CA and the database backup holds the CA, while
// a stolen database alone does not: the master key is kept outside it.
package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/ca/cnf"
	"github.com/authgate/authgate/internal/core"
)

// Document collections and ids the CA owns.
const (
	collCA      = "ca"         // "authority" (keys and certificates), "crl" (current CRL)
	collCerts   = "ca_certs"   // one record per issued certificate, id = serial (hex)
	collRevoked = "ca_revoked" // one entry per revoked certificate, id = serial; the CRL's source
	idAuthority = "authority"
	idCRL       = "crl"
)

// Config is the `ca` section of authgate's configuration.
type Config struct {
	// Enabled serves the /ca HTTP API.
	Enabled bool `yaml:"enabled"`
	// MaxValidityDays caps a certificate's lifetime: the setup document's
	// "valid for up to 3 years" (1096 days leaves room for one leap day).
	MaxValidityDays int `yaml:"max_validity_days"`
	// DefaultValidityDays is used when a request names no validity.
	DefaultValidityDays int `yaml:"default_validity_days"`
	// CRLValidity is the distance between a CRL's thisUpdate and nextUpdate.
	CRLValidity time.Duration `yaml:"crl_validity"`
	// CRLRefresh re-signs an unchanged CRL this long after it was made.
	CRLRefresh time.Duration `yaml:"crl_refresh"`
	// CRLURL is put into issued certificates as their CRL distribution
	// point; "" puts none.
	CRLURL string `yaml:"crl_url"`
	// RequiredSubject lists the subject attributes signing and SSL server
	// requests must carry ("certificate subject matches partner company
	// and address details").
	RequiredSubject []string `yaml:"required_subject"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Enabled:             true,
		MaxValidityDays:     1096,
		DefaultValidityDays: 1095,
		CRLValidity:         7 * 24 * time.Hour,
		CRLRefresh:          24 * time.Hour,
		RequiredSubject:     []string{"C", "ST", "L", "O", "OU", "CN"},
	}
}

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if c.MaxValidityDays < 1 || c.MaxValidityDays > 1096 {
		errs = append(errs, errors.New("ca.max_validity_days must be 1 to 1096 (three years)"))
	}
	if c.DefaultValidityDays < 1 || c.DefaultValidityDays > c.MaxValidityDays {
		errs = append(errs, errors.New("ca.default_validity_days must be 1 to ca.max_validity_days"))
	}
	if c.CRLValidity < time.Hour {
		errs = append(errs, errors.New("ca.crl_validity must be at least 1h"))
	}
	if c.CRLRefresh <= 0 || c.CRLRefresh >= c.CRLValidity {
		errs = append(errs, errors.New("ca.crl_refresh must be positive and shorter than ca.crl_validity"))
	}
	for _, a := range c.RequiredSubject {
		if _, ok := subjectGetters[a]; !ok {
			errs = append(errs, fmt.Errorf("ca.required_subject: unknown attribute %q (use C, ST, L, O, OU, CN, emailAddress)", a))
		}
	}
	return errors.Join(errs...)
}

// sealer is what the CA needs from core.Keyring.
type sealer interface {
	Seal(plaintext []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// auditRecorder is what the CA needs from core.Auditor.
type auditRecorder interface {
	Record(ctx context.Context, e core.AuditEvent) error
}

var (
	_ sealer        = (*core.Keyring)(nil)
	_ auditRecorder = (*core.Auditor)(nil)
)

// Deps are the core services the CA uses.
type Deps struct {
	Docs  core.DocumentStore
	Keys  sealer
	Clock core.Clock
	Audit auditRecorder
	Log   *slog.Logger
	// Rand is the entropy source for keys and serial numbers (crypto/rand when nil).
	Rand interface{ Read([]byte) (int, error) }
}

// DepsFrom takes the CA's dependencies from the core services.
func DepsFrom(svc core.Services) Deps {
	return Deps{Docs: svc.Store, Keys: svc.Keys, Clock: svc.Clock, Audit: svc.Audit, Log: svc.Log}
}

// Authority is the CA. Its key material is read from the store once and
// kept; it changes only through Init.
type Authority struct {
	cfg  Config
	deps Deps

	mu  sync.Mutex
	mat *material
}

// New builds the authority; call Init once per installation.
func New(cfg Config, deps Deps) *Authority {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Rand == nil {
		deps.Rand = rand.Reader
	}
	return &Authority{cfg: cfg, deps: deps}
}

// material is the loaded CA: the root, and the issuing CA that signs
// certificates and CRLs (the root itself when there is no intermediate).
type material struct {
	root      *x509.Certificate
	issuer    *x509.Certificate
	issuerKey crypto.Signer
}

// authorityDoc is the stored form of the CA.
type authorityDoc struct {
	RootPEM       string    `json:"root_pem"`
	RootKey       []byte    `json:"root_key_sealed"` // PKCS#8, sealed
	IssuerPEM     string    `json:"issuer_pem,omitempty"`
	IssuerKey     []byte    `json:"issuer_key_sealed,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	KeyAlgorithm  string    `json:"key_algorithm"`
	HasIssuingSub bool      `json:"intermediate"`
}

// InitOptions choose the CA's keys and names.
type InitOptions struct {
	Algorithm      string // "rsa" (default) or "ecdsa"
	RSABits        int    // default 3072, at least 2048
	Curve          string // "P-256" (default) or "P-384"
	CommonName     string // default "authgate M2M Root CA"
	Organisation   string // default "authgate"
	Intermediate   bool   // also create an issuing CA under the root
	RootValidity   time.Duration
	IssuerValidity time.Duration
}

// Init creates the CA keys and certificates and stores them. It fails
// with KindConflict when the CA already exists.
func (a *Authority) Init(ctx context.Context, opt InitOptions) (*x509.Certificate, error) {
	if opt.Algorithm == "" {
		opt.Algorithm = "rsa"
	}
	if opt.RSABits == 0 {
		opt.RSABits = 3072
	}
	if opt.Curve == "" {
		opt.Curve = "P-256"
	}
	if opt.CommonName == "" {
		opt.CommonName = "authgate M2M Root CA"
	}
	if opt.Organisation == "" {
		opt.Organisation = "authgate"
	}
	if opt.RootValidity == 0 {
		opt.RootValidity = 10 * 365 * 24 * time.Hour
	}
	if opt.IssuerValidity == 0 {
		opt.IssuerValidity = 5 * 365 * 24 * time.Hour
	}
	if opt.Intermediate && opt.IssuerValidity > opt.RootValidity {
		return nil, core.E(core.KindInvalidInput, "the issuing CA cannot outlive the root")
	}
	if _, err := a.deps.Docs.GetDocument(ctx, collCA, idAuthority); err == nil {
		return nil, core.E(core.KindConflict, "the certificate authority is already initialised")
	} else if core.KindOf(err) != core.KindNotFound {
		return nil, err
	}
	now := a.deps.Clock.Now()
	rootKey, err := a.newKey(opt)
	if err != nil {
		return nil, err
	}
	pathLen := 0
	if opt.Intermediate {
		pathLen = 1
	}
	root, err := a.caCert(pkix.Name{CommonName: opt.CommonName, Organization: []string{opt.Organisation}},
		rootKey, nil, nil, now, opt.RootValidity, pathLen)
	if err != nil {
		return nil, err
	}
	doc := authorityDoc{RootPEM: pemCert(root), CreatedAt: now, KeyAlgorithm: opt.Algorithm, HasIssuingSub: opt.Intermediate}
	if doc.RootKey, err = a.sealKey(rootKey, root); err != nil {
		return nil, err
	}
	if opt.Intermediate {
		issKey, err := a.newKey(opt)
		if err != nil {
			return nil, err
		}
		iss, err := a.caCert(pkix.Name{CommonName: opt.CommonName + " (issuing)", Organization: []string{opt.Organisation}},
			issKey, root, rootKey, now, opt.IssuerValidity, 0)
		if err != nil {
			return nil, err
		}
		doc.IssuerPEM = pemCert(iss)
		if doc.IssuerKey, err = a.sealKey(issKey, iss); err != nil {
			return nil, err
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	if err := a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCA, ID: idAuthority, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return nil, core.E(core.KindConflict, "the certificate authority is already initialised")
		}
		return nil, err
	}
	if err := a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: "ca", OrgID: core.SystemOrgID,
		Subject: root.Subject.String(), Reason: fmt.Sprintf("CA initialised (%s, intermediate=%v)", opt.Algorithm, opt.Intermediate)}); err != nil {
		return nil, err
	}
	return root, nil
}

func (a *Authority) newKey(opt InitOptions) (crypto.Signer, error) {
	switch opt.Algorithm {
	case "rsa":
		if opt.RSABits < 2048 || opt.RSABits > 8192 {
			return nil, core.E(core.KindInvalidInput, "CA RSA keys must have 2048 to 8192 bits")
		}
		return rsa.GenerateKey(a.deps.Rand, opt.RSABits)
	case "ecdsa":
		switch opt.Curve {
		case "P-256":
			return ecdsa.GenerateKey(elliptic.P256(), a.deps.Rand)
		case "P-384":
			return ecdsa.GenerateKey(elliptic.P384(), a.deps.Rand)
		}
		return nil, core.E(core.KindInvalidInput, "CA curve must be P-256 or P-384")
	}
	return nil, core.E(core.KindInvalidInput, `CA key algorithm must be "rsa" or "ecdsa"`)
}

// caCert makes a CA certificate for key, self-signed when parent is nil.
func (a *Authority) caCert(name pkix.Name, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer,
	now time.Time, validity time.Duration, pathLen int) (*x509.Certificate, error) {
	serial, err := a.serial()
	if err != nil {
		return nil, err
	}
	skid, err := cnf.KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: name,
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		SubjectKeyId: skid,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	} else if tmpl.NotAfter.After(parent.NotAfter) {
		tmpl.NotAfter = parent.NotAfter
	}
	der, err := x509.CreateCertificate(a.deps.Rand, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	return x509.ParseCertificate(der)
}

// serial returns a positive 159-bit serial from crypto/rand (RFC 5280
// allows 20 octets; the top bit stays clear so the DER needs no padding).
func (a *Authority) serial() (*big.Int, error) {
	b := make([]byte, 20)
	for {
		if _, err := a.deps.Rand.Read(b); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b); n.BitLen() > 64 {
			return n, nil
		}
	}
}

func keyAAD(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "ca-key:" + hex.EncodeToString(sum[:])
}

func (a *Authority) sealKey(key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	return a.deps.Keys.Seal(der, keyAAD(cert))
}

func (a *Authority) openKey(sealed []byte, cert *x509.Certificate) (crypto.Signer, error) {
	der, err := a.deps.Keys.Open(sealed, keyAAD(cert))
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "CA key does not open with this master key", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, core.E(core.KindInternal, "CA key is not a signer")
	}
	return s, nil
}

func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func parsePEMCert(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// errNotInitialised tells the operator what to do.
var errNotInitialised = core.E(core.KindUnavailable, "the certificate authority is not initialised: run `authgate ca init`")

// load returns the CA material, reading it from the store the first time.
func (a *Authority) load(ctx context.Context) (*material, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mat != nil {
		return a.mat, nil
	}
	d, err := a.deps.Docs.GetDocument(ctx, collCA, idAuthority)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, errNotInitialised
		}
		return nil, err
	}
	var doc authorityDoc
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	m := &material{}
	if m.root, err = parsePEMCert(doc.RootPEM); err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	m.issuer, m.issuerKey = m.root, nil
	sealed := doc.RootKey
	if doc.IssuerPEM != "" {
		if m.issuer, err = parsePEMCert(doc.IssuerPEM); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		sealed = doc.IssuerKey
	}
	if m.issuerKey, err = a.openKey(sealed, m.issuer); err != nil {
		return nil, err
	}
	a.mat = m
	return m, nil
}

// Root returns the root certificate.
func (a *Authority) Root(ctx context.Context) (*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	return m.root, nil
}

// Chain returns the certificates between an issued certificate and the
// root, root excluded: the issuing CA, or nothing without an intermediate.
func (a *Authority) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	if m.issuer == m.root {
		return nil, nil
	}
	return []*x509.Certificate{m.issuer}, nil
}
