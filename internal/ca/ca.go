// Package ca is authgate's built-in certificate authority: a root and,
// under it, one issuing CA per kind of certificate — device certificates
// (subject assigned by authgate), and M2M partner certificates of the TA
// and of the PE environment (WSS signing and SSL server, under the policy
// of the M2M setup document: x509 v3, RSA >= 2048, keyUsage and
// extendedKeyUsage per profile, the partner's subject with OU M2M_TA or
// M2M, at most three years). A relying party trusts the one issuing CA it
// needs. The CA records what it issued, revokes, publishes one signed CRL
// per CA, and answers WS-Security's per-message question about partner
// certificates it signed (CheckPartnerCertificate).
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
	"strconv"
	"strings"
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
	ActiveKeyID() string
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
	// Authz is the privilege check of the HTTP API (nil: checked, refusals unaudited).
	Authz *core.Authorizer
	// Retire revokes what was issued on the strength of a revoked
	// certificate: its credential and every token issued on it (nil: the
	// CA record only).
	Retire certificateRetirer
}

// certificateRetirer is what Revoke needs from core.Services.
type certificateRetirer interface {
	RevokeCertificate(ctx context.Context, fingerprint string, by core.Revocation) (found bool, tokens int, err error)
}

var _ certificateRetirer = core.Services{}

// DepsFrom takes the CA's dependencies from the core services.
func DepsFrom(svc core.Services) Deps {
	return Deps{Docs: svc.Store, Keys: svc.Keys, Clock: svc.Clock, Audit: svc.Audit, Log: svc.Log, Authz: svc.Authz, Retire: svc}
}

// Authority is the CA. Its key material is read from the store and kept;
// it is checked against the stored document's version at most every
// refreshEvery, so a rollover made on another node (or by the CLI) is
// seen by every node within that bound.
type Authority struct {
	cfg  Config
	deps Deps

	mu      sync.Mutex
	mat     *material
	version int64     // stored version mat was parsed from
	checked time.Time // when version was last compared with the store

	here issuedHere
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

// The issuing CAs under the root, by name. Each issues one kind of
// certificate only, so a relying party that trusts one of them (the mTLS
// device listener, an M2M environment's trusted_cas) trusts nothing the
// others issued.
const (
	CADevice = "device" // device certificates (profile device)
	CAM2MTA  = "m2m-ta" // partner certificates of the TA environment (OU M2M_TA)
	CAM2MPE  = "m2m-pe" // partner certificates of the PE environment (OU M2M)
)

// IssuingCAs lists the issuing CAs' names.
func IssuingCAs() []string { return []string{CADevice, CAM2MTA, CAM2MPE} }

// caTitle is the part of an issuing CA's common name after the organisation.
var caTitle = map[string]string{CADevice: "Device CA", CAM2MTA: "M2M TA CA", CAM2MPE: "M2M PE CA"}

// material is the loaded CA: the root, the issuing CAs, and the legacy
// issuer (the CA that signed certificates before the issuing CAs existed:
// the root itself, or the intermediate of `ca init --intermediate`). The
// legacy issuer signs nothing new but its CRL; what it issued stays valid.
//
// A CA rollover makes a new generation (root and issuing CAs); the one
// before it stays as prev, validate-only: it signs its CRLs but no
// certificate, until `ca retire-previous` drops it.
type material struct {
	gen       int // generation, 1 for the CA as first initialised
	root      *x509.Certificate
	legacy    *x509.Certificate
	legacyKey crypto.Signer
	issuers   map[string]issuer
	prev      *material // the previous generation, nil when none
}

// generation returns m's generation g (0: the current one), nil if the
// CA holds no such generation.
func (m *material) generation(g int) *material {
	switch {
	case g == 0 || g == m.gen:
		return m
	case m.prev != nil && m.prev.gen == g:
		return m.prev
	}
	return nil
}

// generations is the current generation followed by the previous one.
func (m *material) generations() []*material {
	if m.prev == nil {
		return []*material{m}
	}
	return []*material{m, m.prev}
}

// issuer is one issuing CA with its key.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// authorityDoc is the stored form of the CA.
type authorityDoc struct {
	RootPEM string `json:"root_pem"`
	RootKey []byte `json:"root_key_sealed"` // PKCS#8, sealed
	// IssuerPEM/IssuerKey are the legacy intermediate (`--intermediate`
	// before the issuing CAs existed); absent on newer installations.
	IssuerPEM string               `json:"issuer_pem,omitempty"`
	IssuerKey []byte               `json:"issuer_key_sealed,omitempty"`
	Issuers   map[string]issuerDoc `json:"issuers,omitempty"`
	// PreviousRoots are root certificates replaced by migrate (same key).
	PreviousRoots []string  `json:"previous_roots,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	KeyAlgorithm  string    `json:"key_algorithm"`
	HasIssuingSub bool      `json:"intermediate"`
	// Generation counts rollovers (0 or 1: the CA as first initialised).
	Generation int `json:"generation,omitempty"`
	// Previous is the generation before the last rollover (validate-only),
	// with its own sealed keys; it holds no Previous of its own.
	Previous *authorityDoc `json:"previous,omitempty"`
}

// genOf is a stored generation number, 0 (absent) meaning 1.
func genOf(g int) int {
	if g < 1 {
		return 1
	}
	return g
}

// issuerDoc is the stored form of one issuing CA.
type issuerDoc struct {
	CertPEM string `json:"cert_pem"`
	Key     []byte `json:"key_sealed"` // PKCS#8, sealed
}

// InitOptions choose the CA's keys and names.
type InitOptions struct {
	Algorithm    string // "rsa" (default) or "ecdsa"
	RSABits      int    // default 3072, at least 2048
	Curve        string // "P-256" (default) or "P-384"
	CommonName   string // default "authgate Root CA"
	Organisation string // default "authgate"
	RootValidity time.Duration
	// IssuerValidity is the issuing CAs' lifetime (never beyond the root).
	IssuerValidity time.Duration
}

func (opt *InitOptions) defaults() {
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
		opt.CommonName = "authgate Root CA"
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
}

// Init creates the root and the issuing CAs and stores them. It fails
// with KindConflict when the CA already exists.
func (a *Authority) Init(ctx context.Context, opt InitOptions) (*x509.Certificate, error) {
	if opt.IssuerValidity != 0 && opt.RootValidity != 0 && opt.IssuerValidity > opt.RootValidity {
		return nil, core.E(core.KindInvalidInput, "the issuing CAs cannot outlive the root")
	}
	opt.defaults() // a default issuer validity is cut to the root's (caCert)
	if _, err := a.deps.Docs.GetDocument(ctx, collCA, idAuthority); err == nil {
		return nil, errInitialised
	} else if core.KindOf(err) != core.KindNotFound {
		return nil, err
	}
	now := a.deps.Clock.Now()
	rootKey, err := a.newKey(opt)
	if err != nil {
		return nil, err
	}
	root, err := a.caCert(pkix.Name{CommonName: opt.CommonName, Organization: []string{opt.Organisation}},
		rootKey, nil, nil, now, opt.RootValidity, 1)
	if err != nil {
		return nil, err
	}
	doc := authorityDoc{RootPEM: pemCert(root), CreatedAt: now, KeyAlgorithm: opt.Algorithm}
	if doc.RootKey, err = a.sealKey(rootKey, root); err != nil {
		return nil, err
	}
	if err := a.addIssuers(&doc, root, rootKey, opt, now, 1); err != nil {
		return nil, err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	if err := a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCA, ID: idAuthority, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return nil, errInitialised
		}
		return nil, err
	}
	if err := a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: "ca", OrgID: core.SystemOrgID,
		Subject: root.Subject.String(), Reason: fmt.Sprintf("CA initialised (%s) with issuing CAs %v", opt.Algorithm, IssuingCAs())}); err != nil {
		return nil, err
	}
	return root, nil
}

// errInitialised is Init's answer on an initialised CA.
var errInitialised = core.E(core.KindConflict,
	"the certificate authority is already initialised: to replace its root and issuing CAs while the current ones keep validating what they issued, run `authgate ca rollover`")

// genSuffix tells generations apart in CA names: "" for the first, " G<n>" after.
func genSuffix(gen int) string {
	if gen <= 1 {
		return ""
	}
	return fmt.Sprintf(" G%d", gen)
}

// addIssuers creates the issuing CAs doc lacks, signed by the root.
func (a *Authority) addIssuers(doc *authorityDoc, root *x509.Certificate, rootKey crypto.Signer, opt InitOptions, now time.Time, gen int) error {
	if doc.Issuers == nil {
		doc.Issuers = map[string]issuerDoc{}
	}
	org := opt.Organisation
	if len(root.Subject.Organization) > 0 {
		org = root.Subject.Organization[0]
	}
	for _, name := range IssuingCAs() {
		if _, ok := doc.Issuers[name]; ok {
			continue
		}
		key, err := a.newKey(opt)
		if err != nil {
			return err
		}
		cert, err := a.caCert(pkix.Name{CommonName: org + " " + caTitle[name] + genSuffix(gen), Organization: []string{org}},
			key, root, rootKey, now, opt.IssuerValidity, 0)
		if err != nil {
			return err
		}
		sealed, err := a.sealKey(key, cert)
		if err != nil {
			return err
		}
		doc.Issuers[name] = issuerDoc{CertPEM: pemCert(cert), Key: sealed}
	}
	return nil
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

// refreshEvery bounds how long a node keeps CA material without
// comparing it with the stored document: a rollover or retirement made
// elsewhere is used by every node at most this long after it.
const refreshEvery = 5 * time.Second

// load returns the CA material, reading it from the store the first
// time and again when the stored version changed (checked at most every
// refreshEvery). An installation made before the issuing CAs existed gets
// them here, once, on its first use (see migrate).
func (a *Authority) load(ctx context.Context) (*material, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.deps.Clock.Now()
	if a.mat != nil && now.Sub(a.checked) < refreshEvery && !now.Before(a.checked) {
		return a.mat, nil
	}
	for attempt := 0; ; attempt++ {
		d, err := a.deps.Docs.GetDocument(ctx, collCA, idAuthority)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound {
				return nil, errNotInitialised
			}
			if a.mat != nil && core.KindOf(err) == core.KindUnavailable {
				return a.mat, nil // keep serving what was loaded; checked again next call
			}
			return nil, err
		}
		if a.mat != nil && d.Version == a.version {
			a.checked = now
			return a.mat, nil
		}
		var doc authorityDoc
		if err := json.Unmarshal(d.Data, &doc); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		if len(doc.Issuers) < len(IssuingCAs()) {
			err := a.migrate(ctx, d, doc)
			if core.KindOf(err) == core.KindConflict && attempt < 3 {
				continue // another node migrated meanwhile: read its result
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		m, err := a.parse(doc)
		if err != nil {
			return nil, err
		}
		if doc.Previous != nil {
			if m.prev, err = a.parse(*doc.Previous); err != nil {
				return nil, err
			}
		}
		a.mat, a.version, a.checked = m, d.Version, now
		return m, nil
	}
}

// invalidate makes the next load read the store (after this node changed it).
func (a *Authority) invalidate() {
	a.mu.Lock()
	a.mat = nil
	a.mu.Unlock()
}

func (a *Authority) parse(doc authorityDoc) (*material, error) {
	m := &material{gen: genOf(doc.Generation), issuers: map[string]issuer{}}
	var err error
	if m.root, err = parsePEMCert(doc.RootPEM); err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	m.legacy, m.legacyKey = m.root, nil
	sealed := doc.RootKey
	if doc.IssuerPEM != "" {
		if m.legacy, err = parsePEMCert(doc.IssuerPEM); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		sealed = doc.IssuerKey
	}
	if m.legacyKey, err = a.openKey(sealed, m.legacy); err != nil {
		return nil, err
	}
	for name, id := range doc.Issuers {
		var is issuer
		if is.cert, err = parsePEMCert(id.CertPEM); err != nil {
			return nil, core.Wrap(core.KindInternal, "", err)
		}
		if is.key, err = a.openKey(id.Key, is.cert); err != nil {
			return nil, err
		}
		m.issuers[name] = is
	}
	return m, nil
}

// migrate adds the issuing CAs to an installation that has only a root
// (or a root and the legacy intermediate). A root made without an
// intermediate has path length 0, which forbids any CA below it: it is
// re-certified with the same key, subject and validity and path length 1,
// so what the old root certificate issued still verifies under the new
// one (same name, same key) and the issuing CAs verify strictly. The
// update is conditional on the stored version: of two nodes migrating at
// once, one wins and the other reads its result.
func (a *Authority) migrate(ctx context.Context, d core.Document, doc authorityDoc) error {
	root, err := parsePEMCert(doc.RootPEM)
	if err != nil {
		return core.Wrap(core.KindInternal, "", err)
	}
	rootKey, err := a.openKey(doc.RootKey, root)
	if err != nil {
		return err
	}
	now := a.deps.Clock.Now()
	if root.MaxPathLen == 0 {
		if root, err = a.recertifyRoot(root, rootKey); err != nil {
			return err
		}
		doc.PreviousRoots = append(doc.PreviousRoots, doc.RootPEM)
		doc.RootPEM = pemCert(root)
		if doc.RootKey, err = a.sealKey(rootKey, root); err != nil {
			return err
		}
	}
	opt := InitOptions{Algorithm: doc.KeyAlgorithm}
	switch k := rootKey.Public().(type) {
	case *rsa.PublicKey:
		opt.Algorithm, opt.RSABits = "rsa", k.N.BitLen()
	case *ecdsa.PublicKey:
		opt.Algorithm, opt.Curve = "ecdsa", k.Curve.Params().Name
	}
	opt.defaults()
	if v := root.NotAfter.Sub(now); v < opt.IssuerValidity {
		opt.IssuerValidity = v
	}
	if err := a.addIssuers(&doc, root, rootKey, opt, now, genOf(doc.Generation)); err != nil {
		return err
	}
	d.Data, err = json.Marshal(doc)
	if err != nil {
		return core.Wrap(core.KindInternal, "", err)
	}
	d.UpdatedAt = now
	if _, err := a.deps.Docs.UpdateDocument(ctx, d); err != nil {
		return err
	}
	a.deps.Log.Info("certificate authority migrated: issuing CAs created under the root", slog.Any("issuing_cas", IssuingCAs()))
	return a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditUpdate, Protocol: "ca", OrgID: core.SystemOrgID,
		Subject: root.Subject.String(), Reason: fmt.Sprintf("issuing CAs %v created under the existing root", IssuingCAs())})
}

// recertifyRoot makes a new self-signed certificate for the root's key
// with the same subject and validity and path length 1.
func (a *Authority) recertifyRoot(old *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := a.serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, RawSubject: old.RawSubject,
		NotBefore: old.NotBefore, NotAfter: old.NotAfter,
		KeyUsage:              old.KeyUsage | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
		SubjectKeyId: old.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(a.deps.Rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	return x509.ParseCertificate(der)
}

// Root returns the current generation's root certificate.
func (a *Authority) Root(ctx context.Context) (*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	return m.root, nil
}

// Roots returns the current root and, while it is kept after a rollover,
// the previous generation's: what a relying party should trust during
// the overlap.
func (a *Authority) Roots(ctx context.Context) ([]*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, g := range m.generations() {
		out = append(out, g.root)
	}
	return out, nil
}

// ParseCAName splits a CA name as the CRL and CA certificate endpoints
// take it: "device", "m2m-ta", "m2m-pe" (or "" for the legacy issuer)
// name the current generation's CA; "<name>@<n>" names generation n's,
// with "legacy@<n>" for generation n's legacy issuer (its root, or the
// intermediate of `ca init --intermediate`). gen 0 is the current one.
func ParseCAName(s string) (name string, gen int, err error) {
	name = s
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		name = s[:at]
		n, perr := strconv.Atoi(s[at+1:])
		if perr != nil || n < 1 || n > 1<<20 {
			return "", 0, core.E(core.KindInvalidInput, fmt.Sprintf("CA name %q: the generation after '@' must be a positive number", s))
		}
		gen = n
		if name == "legacy" {
			name = ""
		}
	}
	if name != "" && caTitle[name] == "" {
		return "", 0, core.E(core.KindInvalidInput, fmt.Sprintf("unknown issuing CA %q (use %v, optionally with @<generation>)", s, IssuingCAs()))
	}
	return name, gen, nil
}

// qualifiedName is the name of CA name of generation gen as ParseCAName
// reads it; generation 1 keeps the plain names it always had.
func qualifiedName(name string, gen int) string {
	if gen <= 1 {
		return name
	}
	if name == "" {
		name = "legacy"
	}
	return fmt.Sprintf("%s@%d", name, gen)
}

// resolve finds the generation and issuer a CA name (ParseCAName) names.
func (m *material) resolve(s string) (*material, string, issuer, error) {
	name, gen, err := ParseCAName(s)
	if err != nil {
		return nil, "", issuer{}, err
	}
	g := m.generation(gen)
	if g == nil {
		return nil, "", issuer{}, core.E(core.KindNotFound, fmt.Sprintf("the CA holds no generation %d (current: %d)", gen, m.gen))
	}
	if name == "" {
		return g, name, issuer{cert: g.legacy, key: g.legacyKey}, nil
	}
	return g, name, g.issuers[name], nil
}

// IssuingCA returns one issuing CA's certificate by name (CADevice,
// CAM2MTA, CAM2MPE; "<name>@<generation>" for a given generation).
func (a *Authority) IssuingCA(ctx context.Context, name string) (*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, core.E(core.KindInvalidInput, fmt.Sprintf("name an issuing CA (%v)", IssuingCAs()))
	}
	_, _, is, err := m.resolve(name)
	if err != nil {
		return nil, err
	}
	return is.cert, nil
}

// Intermediates returns every CA certificate under the current root: the
// issuing CAs and the legacy intermediate, if any.
func (a *Authority) Intermediates(ctx context.Context) ([]*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	return m.intermediates(), nil
}

func (m *material) intermediates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, name := range IssuingCAs() {
		out = append(out, m.issuers[name].cert)
	}
	if m.legacy != m.root {
		out = append(out, m.legacy)
	}
	return out
}

// Certificates returns every CA certificate the CA holds: the current
// root and the CAs under it, then the previous generation's, if kept.
func (a *Authority) Certificates(ctx context.Context) ([]*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, g := range m.generations() {
		out = append(append(out, g.root), g.intermediates()...)
	}
	return out, nil
}

// DeviceIssuers returns the CAs whose certificates the device listener
// accepts, each as a trust anchor of its own: the device CA, and the
// legacy issuer for device certificates made before it existed, of the
// current generation and of the previous one while it is kept. The M2M
// issuing CAs are not among them.
func (a *Authority) DeviceIssuers(ctx context.Context) ([]*x509.Certificate, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, g := range m.generations() {
		out = append(out, g.issuers[CADevice].cert, g.legacy)
	}
	return out, nil
}
