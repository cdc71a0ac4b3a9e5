package ca

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Every operation below takes the caller's core.Gate: the admin API's
// request, the /ca API's authenticated caller (authzGate), or the CLI's
// core.Operator. The gate decides with the privilege table and audits its
// refusals; the CA's actions are administrators' only.

// origin is what a gate may tell the CA's audit records about the
// request it came with (the admin API's request and the /ca API's gate do).
type origin interface {
	RemoteAddr() string
	RequestID() string
}

// requester is who the CA's own records and audit events name: the
// actor's organisation and principal (the system organisation and no
// principal for the operator) and the request's origin ("cli" without one).
type requester struct{ orgID, principalID, remoteAddr, requestID string }

func requesterOf(g core.Gate) requester {
	act := g.Actor()
	r := requester{orgID: act.OrgID, principalID: act.PrincipalID, remoteAddr: "cli"}
	if r.orgID == "" {
		r.orgID = core.SystemOrgID
	}
	if o, ok := g.(origin); ok {
		r.remoteAddr, r.requestID = o.RemoteAddr(), o.RequestID()
	}
	return r
}

// authorize checks that g may perform action (on every organisation's
// certificates: the CA's actions are granted to administrators only).
func authorize(ctx context.Context, g core.Gate, action core.Action, subject string) error {
	if g == nil {
		return core.E(core.KindForbidden, "not allowed: no caller")
	}
	return g.Authorize(ctx, action, core.Target{}, subject)
}

// authzGate is the gate of the /ca API: its authenticated caller, decided
// by the privilege table (refusals audited with the request's origin).
type authzGate struct {
	actor             core.Actor
	authz             *core.Authorizer
	remoteAddr, reqID string
}

var (
	_ core.Gate = authzGate{}
	_ origin    = authzGate{}
)

func (g authzGate) Actor() core.Actor { return g.actor }

func (g authzGate) Authorize(ctx context.Context, action core.Action, target core.Target, subject string) error {
	return g.authz.AuthorizeAdmin(ctx, core.Authorization{Actor: g.actor, Action: action, Target: target, Subject: subject,
		Protocol: "ca", RemoteAddr: g.remoteAddr, RequestID: g.reqID})
}

func (g authzGate) RemoteAddr() string { return g.remoteAddr }

func (g authzGate) RequestID() string { return g.reqID }

// Page sizes of ListCertificates.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListCertificates returns issued certificates, newest first, and how
// many there are, for an actor granted ca.read; orgID "" lists every
// organisation's (the one that asked for them).
func (a *Authority) ListCertificates(ctx context.Context, g core.Gate, orgID string, p core.Page) ([]Record, int, error) {
	if err := authorize(ctx, g, core.ActCARead, "certificates"); err != nil {
		return nil, 0, err
	}
	if p.Limit == 0 {
		p.Limit = DefaultListLimit
	}
	if p.Offset < 0 || p.Limit < 1 || p.Limit > MaxListLimit {
		return nil, 0, core.E(core.KindInvalidInput, "offset must be at least 0 and limit 1 to 1000")
	}
	return a.List(ctx, orgID, p)
}

// Certificate returns one issued certificate's record (with its PEM),
// for an actor granted ca.read.
func (a *Authority) Certificate(ctx context.Context, g core.Gate, serial string) (Record, error) {
	if err := authorize(ctx, g, core.ActCARead, "certificate "+trimSubject(serial)); err != nil {
		return Record{}, err
	}
	rec, _, err := a.Get(ctx, serial)
	return rec, err
}

// IssueRequest is what IssueCertificate takes: a partner certificate
// from a PKCS#10 request, by profile and environment as `ca sign` takes
// them. Device certificates are issued through the device identities.
type IssueRequest struct {
	CSR          []byte // PEM or DER, at most MaxCSRSize
	Profile      string // signing or ssl-server
	Environment  string // TA or PE
	ValidityDays int    // 0: ca.default_validity_days
	Organisation string // when set, the subject's O must be exactly this
}

// IssueCertificate checks req against its profile's policy (the
// request's signature among it) and issues the certificate, for an actor
// granted ca.issue. Refusals and issues are audited.
func (a *Authority) IssueCertificate(ctx context.Context, g core.Gate, req IssueRequest) (Issued, error) {
	if err := authorize(ctx, g, core.ActCAIssue, "certificate request, profile "+trimSubject(req.Profile)); err != nil {
		return Issued{}, err
	}
	env, err := ParseEnvironment(req.Environment)
	if err != nil {
		return Issued{}, err
	}
	if req.ValidityDays < 0 || req.ValidityDays > 100000 {
		return Issued{}, core.E(core.KindInvalidInput, "validity_days must be 0 (the default) to ca.max_validity_days")
	}
	who := requesterOf(g)
	return a.Sign(ctx, SignRequest{CSR: req.CSR, Profile: req.Profile, Environment: env, Organisation: req.Organisation,
		Validity: time.Duration(req.ValidityDays) * 24 * time.Hour,
		OrgID:    who.orgID, PrincipalID: who.principalID, RemoteAddr: who.remoteAddr, RequestID: who.requestID})
}

// RevokeCertificate revokes an issued certificate, of any generation the
// CA issued it from, for an actor granted ca.revoke. An unknown serial is
// KindNotFound; a certificate revoked before is KindConflict (after its
// tokens are revoked again, which repairs an interrupted revocation).
func (a *Authority) RevokeCertificate(ctx context.Context, g core.Gate, serial, reason string) (Record, error) {
	if err := authorize(ctx, g, core.ActCARevoke, "certificate "+trimSubject(serial)); err != nil {
		return Record{}, err
	}
	who := requesterOf(g)
	return a.Revoke(ctx, RevokeRequest{Serial: serial, Reason: reason, OrgID: who.orgID, PrincipalID: who.principalID,
		RemoteAddr: who.remoteAddr, RequestID: who.requestID})
}

// trimSubject bounds what a caller chose before it reaches an audit record.
func trimSubject(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// View is an issued certificate as the admin API and the CLI show it.
type View struct {
	Serial      string `json:"serial"`
	Subject     string `json:"subject"`
	Profile     string `json:"profile"`
	Environment string `json:"environment,omitempty"`
	// Issuer is the issuing CA's name ("legacy" for the CA that signed
	// before the issuing CAs existed), Generation the CA generation it
	// belongs to; IssuerRef names both as the CRL endpoints take them.
	Issuer     string    `json:"issuer"`
	Generation int       `json:"generation"`
	IssuerRef  string    `json:"issuer_ref"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	// ExpiresInDays is the whole days until NotAfter (negative once expired).
	ExpiresInDays int `json:"expires_in_days"`
	// Status is valid, expired or revoked.
	Status           string     `json:"status"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	SHA256           string     `json:"sha256"`
	DNSNames         []string   `json:"dns_names,omitempty"`
	IPAddresses      []string   `json:"ip_addresses,omitempty"`
	IssuedAt         time.Time  `json:"issued_at"`
	RequestedBy      string     `json:"requested_by,omitempty"`
	// Certificate is the PEM certificate (one certificate's view only).
	Certificate string `json:"certificate,omitempty"`
	// Chain is the issuing CA's certificate (PEM; in an issue's answer only).
	Chain string `json:"chain,omitempty"`
}

// Certificate statuses of a View.
const (
	StatusValid   = "valid"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// ViewOf is r as shown at now; withPEM includes the certificate itself.
func ViewOf(r Record, now time.Time, withPEM bool) View {
	issuer := r.Issuer
	if issuer == "" {
		issuer = "legacy"
	}
	gen := genOf(r.Generation)
	v := View{Serial: r.Serial, Subject: r.Subject, Profile: r.Profile, Environment: r.Environment,
		Issuer: issuer, Generation: gen, IssuerRef: issuer + "@" + strconv.Itoa(gen),
		NotBefore: r.NotBefore, NotAfter: r.NotAfter, ExpiresInDays: DaysUntil(r.NotAfter, now),
		Status: StatusValid, RevokedAt: r.RevokedAt, RevocationReason: r.RevocationReason, SHA256: r.SHA256,
		DNSNames: r.DNSNames, IPAddresses: r.IPAddresses, IssuedAt: r.IssuedAt, RequestedBy: r.RequestedBy}
	switch {
	case r.RevokedAt != nil:
		v.Status = StatusRevoked
	case !now.Before(r.NotAfter):
		v.Status = StatusExpired
	}
	if withPEM {
		v.Certificate = r.CertificatePEM
	}
	return v
}

// IssuedView is an issue's answer: the certificate's view with its PEM and chain.
func IssuedView(iss Issued, now time.Time) View {
	v := ViewOf(iss.Record, now, true)
	for _, c := range iss.Chain {
		v.Chain += pemCert(c)
	}
	return v
}

// DaysUntil is the whole days from now to t, rounded down (so a
// certificate expiring in 12 hours has 0 days left, one that expired an
// hour ago -1).
func DaysUntil(t, now time.Time) int {
	return int(math.Floor(t.Sub(now).Hours() / 24))
}

// Now is the CA's clock (views count days to expiry from it).
func (a *Authority) Now() time.Time { return a.deps.Clock.Now() }

// CRLFor is CRLOf for an actor granted ca.read (the admin API's and the
// CLI's download; relying parties fetch the same CRL from the public
// /ca/crl without credentials).
func (a *Authority) CRLFor(ctx context.Context, g core.Gate, caName string) ([]byte, error) {
	if err := authorize(ctx, g, core.ActCARead, "CRL "+trimSubject(caName)); err != nil {
		return nil, err
	}
	return a.CRLOf(ctx, caName)
}

// Expiring returns the unrevoked certificates the CA issued whose
// NotAfter is after now and at or before until, reading at most max
// records (newest first); truncated reports that more were left unread.
// It is the dashboard's source (its own privilege check: stats.read).
func (a *Authority) Expiring(ctx context.Context, now, until time.Time, max int) (out []Record, truncated bool, err error) {
	const page = 500
	for off := 0; off < max; off += page {
		recs, total, err := a.List(ctx, "", core.Page{Offset: off, Limit: min(page, max-off)})
		if err != nil {
			return nil, false, err
		}
		for _, r := range recs {
			if r.RevokedAt == nil && r.NotAfter.After(now) && !r.NotAfter.After(until) {
				out = append(out, r)
			}
		}
		if len(recs) == 0 || off+len(recs) >= total {
			return out, false, nil
		}
	}
	return out, true, nil
}
