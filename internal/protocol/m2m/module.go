package m2m

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/wssec"
)

// protocol names this adapter in the audit log.
const protocol = "m2m"

// Document collections owned by this package.
const (
	CollectionPartners = "m2m.partners"
	CollectionSIMs     = "m2m.sims"
	CollectionRequests = "m2m.requests"
)

// The services the adapter needs, as small interfaces it owns.
type (
	credentials interface {
		VerifySecret(ctx context.Context, kind core.CredentialKind, lookup, secret string) (core.Credential, error)
		Create(ctx context.Context, spec core.CredentialSpec) (core.Credential, string, error)
	}
	provisioner interface {
		CreateOrganisation(ctx context.Context, name string) (core.Organisation, error)
		CreatePrincipal(ctx context.Context, orgID string, kind core.PrincipalKind, name string) (core.Principal, error)
	}
	replayCache interface {
		Remember(ctx context.Context, namespace, key string, expires time.Time) error
	}
	auditor interface {
		Record(ctx context.Context, e core.AuditEvent) error
	}
	documents interface {
		PutDocument(ctx context.Context, d core.Document) error
		GetDocument(ctx context.Context, collection, id string) (core.Document, error)
		UpdateDocument(ctx context.Context, d core.Document) (core.Document, error)
	}
	// partnerCA is authgate's own CA's word on a partner certificate
	// (revoked, or not issued as a signing certificate of env).
	partnerCA interface {
		CheckPartnerCertificate(ctx context.Context, cert *x509.Certificate, env ca.Environment) error
		// Get and FindByKeyReference find issued certificates for key
		// references: by serial (X509IssuerSerial), by thumbprint or
		// subject key identifier.
		Get(ctx context.Context, serial string) (ca.Record, core.Document, error)
		FindByKeyReference(ctx context.Context, kind string, value []byte) ([]ca.Record, error)
	}
	// guard limits failed M2MApiKey checks (core.Guard).
	guard interface {
		Verify(ctx context.Context, a core.Attempt, check func() error) error
	}
	// accessPolicy decides, after authentication, whether the partner may
	// call the operation (API subscriptions; internal/subscription).
	accessPolicy interface {
		Allow(ctx context.Context, a core.Access) error
	}
	jobs interface {
		EnqueueJob(ctx context.Context, j core.Job) error
		ClaimJobs(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]core.Job, error)
		CompleteJob(ctx context.Context, id string, at time.Time) error
		RetryJob(ctx context.Context, id string, runAt time.Time, lastErr string) error
		FailJob(ctx context.Context, id string, at time.Time, lastErr string) error
	}
)

var (
	_ credentials               = (*core.Credentials)(nil)
	_ provisioner               = core.Services{}
	_ replayCache               = (*core.Replay)(nil)
	_ auditor                   = (*core.Auditor)(nil)
	_ guard                     = (*core.Guard)(nil)
	_ documents                 = (core.Store)(nil)
	_ jobs                      = (core.Store)(nil)
	_ httpapi.Module            = (*Env)(nil)
	_ partnerCA                 = (*ca.Authority)(nil)
	_ wssec.CertificateChecker  = caChecker{}
	_ wssec.CertificateResolver = caResolver{}
)

// Deps are the adapter's collaborators.
type Deps struct {
	Clock       core.Clock
	Log         *slog.Logger
	Credentials credentials
	Provision   provisioner
	Replay      replayCache
	Audit       auditor
	Docs        documents
	Jobs        jobs
	Guard       guard
	ClientAddr  httpapi.ClientAddr
	Access      accessPolicy // nil: no subscription check
	// CA is authgate's CA, consulted on every message about certificates
	// it issued; nil when the node has none.
	CA partnerCA
	// Tracer makes a span of every message's WS-Security check; nil: none.
	Tracer trace.Tracer
	// Observer counts authentication outcomes; nil: none.
	Observer outcomeObserver
	// Outgoing wraps the callback client's transport (trace context
	// propagation to the partner); nil: the transport as is.
	Outgoing func(http.RoundTripper) http.RoundTripper
}

// outcomeObserver is what the adapter reports outcomes to (core.Observer).
type outcomeObserver interface {
	AuthOutcome(family, scheme string, err error)
}

// DepsFrom takes the adapter's collaborators from the core services.
func DepsFrom(svc core.Services, addr httpapi.ClientAddr) Deps {
	return Deps{
		Clock: svc.Clock, Log: svc.Log, Credentials: svc.Credentials, Provision: svc,
		Replay: svc.Replay, Audit: svc.Audit, Docs: svc.Store, Jobs: svc.Store, Guard: svc.Guard, ClientAddr: addr,
		Tracer: svc.Tracer, Observer: svc.Observer,
	}
}

// Env is one environment: its HTTPS routes (it is an httpapi.Module for
// its own listener), its signer and verifier, its partners and its outbox.
type Env struct {
	Name     string
	cfg      Config
	d        Deps
	mat      Material
	signer   *wssec.Signer
	verifier *wssec.Verifier
	checkers []wssec.CertificateChecker
	resolver wssec.CertificateResolver // nil without authgate's CA
	partners map[string]*partner       // by principal id
	byName   map[string]*partner
	client   *http.Client
	// certs serves the listener's TLS pair, re-read on reload.
	certs *httpapi.CertFiles
}

// partner is a configured partner bound to its core principal.
type partner struct {
	Partner
	OrgID, PrincipalID string
	pinned             [][32]byte
	subjects           [][]dnAttr
	verifier           *wssec.Verifier // for its signed acknowledgments
	// maxTTL is the longest Timestamp lifetime accepted from the partner.
	maxTTL time.Duration
}

// partnerRecord is the CollectionPartners document: a partner's core
// identity, created once and shared by TA and PE.
type partnerRecord struct {
	Name        string `json:"name"`
	OrgID       string `json:"org_id"`
	PrincipalID string `json:"principal_id"`
}

// NewEnv builds an environment from loaded material and binds each of its
// partners to a core principal (creating it on first start).
func NewEnv(ctx context.Context, name string, cfg Config, mat Material, d Deps) (*Env, error) {
	if name != EnvTA && name != EnvPE {
		return nil, fmt.Errorf("m2m: unknown environment %q", name)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	e := &Env{Name: name, cfg: cfg, d: d, mat: mat, partners: map[string]*partner{}, byName: map[string]*partner{}}
	var now func() time.Time
	if d.Clock != nil {
		now = d.Clock.Now
	}
	ec := cfg.Envs()[name]
	e.certs = httpapi.NewCertFiles(ec.TLSCert, ec.TLSKey, mat.TLS, now)
	e.checkers = append(e.checkers, mat.Checkers...)
	if d.CA != nil {
		e.checkers = append(e.checkers, caChecker{ca: d.CA, env: ca.Environment(name)})
		e.resolver = caResolver{ca: d.CA, env: ca.Environment(name)}
	}
	var err error
	if e.signer, err = wssec.NewSigner(mat.SigningKey, mat.SigningCert, wssec.SignerOptions{TTL: cfg.TimestampTTL, Clock: d.Clock}); err != nil {
		return nil, fmt.Errorf("m2m %s: %w", name, err)
	}
	// The verifier's own check must accept authgate's certificate rules for
	// its signer too, or partners could not verify what it sends.
	var pinned []*x509.Certificate
	// The shared verifier runs before the partner is known, so it takes the
	// longest lifetime any partner may use; each partner's own limit is
	// checked once the message is bound to it (authenticate).
	envTTL := cmp.Or(mat.MaxTimestampTTL, cfg.TimestampTTL)
	widest := envTTL
	for _, p := range mat.Partners {
		pinned = append(pinned, p.SigningCerts...)
		widest = max(widest, cmp.Or(p.MaxTimestampTTL, envTTL))
	}
	if len(pinned) == 0 && mat.TrustedCAs == nil {
		return nil, fmt.Errorf("m2m %s: no partner certificates and no trusted CAs", name)
	}
	if e.verifier, err = wssec.NewVerifier(e.policy(pinned, widest)); err != nil {
		return nil, err
	}
	for _, p := range mat.Partners {
		rec, err := ensurePartner(ctx, d, p.Name)
		if err != nil {
			return nil, fmt.Errorf("m2m %s: partner %s: %w", name, p.Name, err)
		}
		pp := &partner{Partner: p, OrgID: rec.OrgID, PrincipalID: rec.PrincipalID, maxTTL: cmp.Or(p.MaxTimestampTTL, envTTL)}
		for _, c := range p.SigningCerts {
			pp.pinned = append(pp.pinned, sha256.Sum256(c.Raw))
		}
		for _, subj := range p.SigningSubjects {
			attrs, err := parseDN(subj)
			if err != nil {
				return nil, fmt.Errorf("m2m %s: partner %s: %w", name, p.Name, err)
			}
			pp.subjects = append(pp.subjects, attrs)
		}
		if len(pp.subjects) > 0 && p.SigningCA == nil {
			return nil, fmt.Errorf("m2m %s: partner %s: signing_subjects need signing_ca", name, p.Name)
		}
		if pp.verifier, err = wssec.NewVerifier(e.policy(p.SigningCerts, pp.maxTTL)); err != nil {
			return nil, fmt.Errorf("m2m %s: partner %s: %w", name, p.Name, err)
		}
		e.partners[rec.PrincipalID] = pp
		e.byName[p.Name] = pp
	}
	var transport http.RoundTripper = &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: mat.CallbackCAs},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	if d.Outgoing != nil {
		transport = d.Outgoing(transport)
	}
	e.client = &http.Client{
		Timeout:   cfg.CallbackTimeout,
		Transport: transport,
		// Callbacks go to the registered endpoint only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e, nil
}

func (e *Env) policy(pinned []*x509.Certificate, maxTTL time.Duration) wssec.Policy {
	return wssec.Policy{
		MaxBytes: e.cfg.MaxMessageBytes, MaxTTL: maxTTL, Skew: e.cfg.ClockSkew,
		AllowSHA1: e.cfg.AllowRSASHA1, Roots: e.mat.TrustedCAs, Pinned: pinned, Clock: e.d.Clock,
		Checkers: e.checkers, Resolver: e.resolver,
	}
}

// caResolver finds, for key references that name a certificate instead
// of carrying it, the signing certificates authgate's CA issued for one
// environment: by serial for X509IssuerSerial, through the CA's key index
// for thumbprints and subject key identifiers. The verifier still checks
// that the certificate matches the reference, chains to a trusted CA, and
// asks caChecker whether it is revoked.
type caResolver struct {
	ca  partnerCA
	env ca.Environment
}

func (r caResolver) ResolveCertificate(ctx context.Context, ref wssec.KeyReference) ([]*x509.Certificate, error) {
	var recs []ca.Record
	switch ref.Form {
	case wssec.KeyIssuerSerial:
		if ref.Serial == nil {
			return nil, nil
		}
		rec, _, err := r.ca.Get(ctx, ref.Serial.Text(16))
		if k := core.KindOf(err); k == core.KindNotFound || k == core.KindInvalidInput {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		recs = []ca.Record{rec}
	case wssec.KeyThumbprintSHA1, wssec.KeySubjectKeyIdentifier:
		kind := ca.KeyThumbprintSHA1
		if ref.Form == wssec.KeySubjectKeyIdentifier {
			kind = ca.KeySubjectKeyID
		}
		var err error
		if recs, err = r.ca.FindByKeyReference(ctx, kind, ref.Value); err != nil {
			if core.KindOf(err) == core.KindInvalidInput {
				return nil, nil
			}
			return nil, err
		}
	default:
		return nil, nil
	}
	var out []*x509.Certificate
	for _, rec := range recs {
		if rec.Profile != "signing" || rec.Environment != string(r.env) {
			continue // not a signing certificate of this environment
		}
		b, _ := pem.Decode([]byte(rec.CertificatePEM))
		if b == nil {
			return nil, core.E(core.KindInternal, "CA record "+rec.Serial+" holds no certificate")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, core.Wrap(core.KindInternal, "CA record "+rec.Serial, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// caChecker puts authgate's CA behind the verifier for one environment.
type caChecker struct {
	ca  partnerCA
	env ca.Environment
}

func (c caChecker) CheckCertificate(ctx context.Context, cert, _ *x509.Certificate) error {
	return c.ca.CheckPartnerCertificate(ctx, cert, c.env)
}

// TLSConfig is the listener's TLS configuration: the pair tls_cert /
// tls_key name, re-read by the environment's reload.
func (e *Env) TLSConfig() *tls.Config { return e.certs.TLSConfig() }

// SigningCertificate is the certificate partners pin to verify authgate.
func (e *Env) SigningCertificate() *x509.Certificate { return e.mat.SigningCert }

// ensurePartner returns the partner's core identity, creating an
// organisation and a principal of kind partner the first time.
func ensurePartner(ctx context.Context, d Deps, name string) (partnerRecord, error) {
	var rec partnerRecord
	doc, err := d.Docs.GetDocument(ctx, CollectionPartners, name)
	if err == nil {
		return rec, json.Unmarshal(doc.Data, &rec)
	}
	if core.KindOf(err) != core.KindNotFound {
		return rec, err
	}
	org, err := d.Provision.CreateOrganisation(ctx, "m2m partner "+name)
	if err != nil {
		return rec, err
	}
	p, err := d.Provision.CreatePrincipal(ctx, org.ID, core.PrincipalPartner, name)
	if err != nil {
		return rec, err
	}
	rec = partnerRecord{Name: name, OrgID: org.ID, PrincipalID: p.ID}
	data, _ := json.Marshal(rec)
	now := d.Clock.Now()
	if err := d.Docs.PutDocument(ctx, core.Document{Collection: CollectionPartners, ID: name, OrgID: org.ID, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		if core.KindOf(err) == core.KindConflict { // another node won the race
			return ensurePartner(ctx, d, name)
		}
		return rec, err
	}
	return rec, nil
}

// certificateBelongs reports whether cert identifies p: one of its pinned
// certificates, or (when chained to a trusted CA) a certificate issued by
// p's signing CA whose whole subject is one of p's subjects.
func (p *partner) certificateBelongs(cert, issuer *x509.Certificate, pinned bool) bool {
	fp := sha256.Sum256(cert.Raw)
	for _, f := range p.pinned {
		if subtle.ConstantTimeCompare(fp[:], f[:]) == 1 {
			return true
		}
	}
	if pinned || issuer == nil || p.SigningCA == nil || !issuer.Equal(p.SigningCA) {
		return false
	}
	for _, want := range p.subjects {
		if sameDN(cert.Subject, want) {
			return true
		}
	}
	return false
}

// APIKeyMeta is the Meta of an M2MApiKey credential: the environment it
// is valid in.
type APIKeyMeta struct {
	Env string `json:"env"`
}

// CreateAPIKey issues an M2MApiKey for a partner in one environment. The
// key is returned once, as "<lookup>.<secret>"; only its keyed hash is
// stored. It provisions the partner if needed: callers check first that
// the environment lists it (Admin.CreateAPIKey does).
func CreateAPIKey(ctx context.Context, d Deps, env, partnerName string) (string, error) {
	_, key, err := issueAPIKey(ctx, d, env, partnerName)
	return key, err
}

func issueAPIKey(ctx context.Context, d Deps, env, partnerName string) (core.Credential, string, error) {
	if env != EnvTA && env != EnvPE {
		return core.Credential{}, "", core.E(core.KindInvalidInput, "environment must be TA or PE")
	}
	rec, err := ensurePartner(ctx, d, partnerName)
	if err != nil {
		return core.Credential{}, "", err
	}
	meta, _ := json.Marshal(APIKeyMeta{Env: env})
	c, secret, err := d.Credentials.Create(ctx, core.CredentialSpec{
		OrgID: rec.OrgID, PrincipalID: rec.PrincipalID, Kind: core.CredAPIKey,
		Name: "M2MApiKey " + env, Meta: meta,
	})
	if err != nil {
		return core.Credential{}, "", err
	}
	if err := d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditIssue, Protocol: protocol, OrgID: rec.OrgID,
		PrincipalID: rec.PrincipalID, Subject: c.Lookup, Reason: "M2MApiKey for " + env}); err != nil {
		return core.Credential{}, "", err
	}
	return c, c.Lookup + "." + secret, nil
}

// splitAPIKey separates "<lookup>.<secret>".
func splitAPIKey(k string) (string, string, bool) {
	lookup, secret, ok := strings.Cut(strings.TrimSpace(k), ".")
	return lookup, secret, ok && lookup != "" && secret != "" && len(k) <= 512
}
