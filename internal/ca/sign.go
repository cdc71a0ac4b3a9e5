package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/ca/cnf"
	"github.com/authgate/authgate/internal/core"
)

// Environment is the M2M environment a certificate is for.
type Environment string

// The two environments of the setup document.
const (
	EnvTA Environment = "TA" // test and approval
	EnvPE Environment = "PE" // production
)

// OU is the organisational unit the setup document prescribes for env.
func (e Environment) OU() string {
	if e == EnvTA {
		return "M2M_TA"
	}
	return "M2M"
}

// ParseEnvironment accepts TA or PE (any case); "" is no environment.
func ParseEnvironment(s string) (Environment, error) {
	switch strings.ToUpper(s) {
	case "TA":
		return EnvTA, nil
	case "PE":
		return EnvPE, nil
	case "":
		return "", nil
	}
	return "", core.E(core.KindInvalidInput, fmt.Sprintf("environment %q must be TA or PE", s))
}

// Profile is a kind of certificate the CA issues.
type Profile struct {
	Name        string
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	// RSAOnly requires an RSA key (the B2B gateway's "2048 bits RSA keys").
	RSAOnly bool
	// NeedsEnvironment requires TA or PE and the matching OU.
	NeedsEnvironment bool
	// ServerNames puts the host names (CN and requested SANs) into the
	// subjectAltName, and requires them to be host names or addresses.
	ServerNames bool
	// Subject lists required subject attributes; nil means Config.RequiredSubject.
	Subject []string
	// AssignedSubject ignores the request's subject: the certificate's
	// subject is chosen by authgate (SignRequest.Device).
	AssignedSubject bool
}

// The profiles. signing and ssl-server are the setup document's WSS
// signing and SSL server certificates, issued by the environment's M2M
// issuing CA with the partner's subject; device is for device identities,
// issued by the device CA with a subject authgate assigns.
var profiles = map[string]Profile{
	"signing": {
		Name: "signing", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, RSAOnly: true, NeedsEnvironment: true,
	},
	"ssl-server": {
		Name: "ssl-server", KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, RSAOnly: true, NeedsEnvironment: true, ServerNames: true,
	},
	"device": {
		Name: "device", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, AssignedSubject: true,
	},
}

// ProfileNames lists the profiles.
func ProfileNames() []string { return []string{"signing", "ssl-server", "device"} }

// LookupProfile returns a profile by name.
func LookupProfile(name string) (Profile, bool) {
	p, ok := profiles[name]
	return p, ok
}

// SignRequest is one issuing request.
type SignRequest struct {
	CSR         []byte // PEM or DER PKCS#10
	Profile     string
	Environment Environment   // TA or PE; required by signing and ssl-server
	Validity    time.Duration // 0: Config.DefaultValidityDays (never beyond the CA)
	// Organisation, when set, must equal the request's O: the partner
	// the certificate is for.
	Organisation string
	// Device is the identity a device certificate is for; required by the
	// device profile, whose subject it makes (see DeviceName).
	Device *DeviceSubject
	// Who asks (recorded and audited).
	OrgID, PrincipalID, RemoteAddr, RequestID string
}

// DeviceSubject names the device a device certificate is issued to.
type DeviceSubject struct {
	DeviceID string // the device's principal id
	OrgID    string // its organisation's id
}

// DeviceOU is the organisational unit of every device certificate.
const DeviceOU = "device"

// DeviceName is the subject of a device certificate: O = organisation id,
// OU = device, CN = device principal id. Ids only: no name a user chose
// reaches a certificate subject, and OU "device" is never an M2M OU.
func DeviceName(d DeviceSubject) pkix.Name {
	return pkix.Name{Organization: []string{d.OrgID}, OrganizationalUnit: []string{DeviceOU}, CommonName: d.DeviceID}
}

func (d *DeviceSubject) check() error {
	for what, v := range map[string]string{"device id": d.DeviceID, "organisation id": d.OrgID} {
		if v == "" || len(v) > 64 {
			return refuse("device certificate: %s must be 1 to 64 characters", what)
		}
		for _, r := range v {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return refuse("device certificate: %s may hold letters, digits, '-', '_' and '.' only", what)
			}
		}
	}
	return nil
}

// issuerFor names the issuing CA of a profile and environment.
func issuerFor(prof Profile, env Environment) string {
	switch {
	case prof.AssignedSubject:
		return CADevice
	case env == EnvPE:
		return CAM2MPE
	}
	return CAM2MTA
}

// Issued is an issued certificate.
type Issued struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // issuing CA (if any); root excluded
	Record      Record
}

// PEM returns the certificate followed by its chain.
func (i Issued) PEM() []byte {
	var b bytes.Buffer
	b.WriteString(pemCert(i.Certificate))
	for _, c := range i.Chain {
		b.WriteString(pemCert(c))
	}
	return b.Bytes()
}

// Record is the stored account of an issued certificate.
type Record struct {
	Serial  string `json:"serial"` // lower-case hex
	Profile string `json:"profile"`
	// Issuer is the issuing CA's name; "" for the legacy issuer.
	Issuer string `json:"issuer,omitempty"`
	// Generation is the CA generation that issued it (absent: the first).
	Generation       int        `json:"generation,omitempty"`
	Environment      string     `json:"environment,omitempty"`
	Subject          string     `json:"subject"`
	DNSNames         []string   `json:"dns_names,omitempty"`
	IPAddresses      []string   `json:"ip_addresses,omitempty"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	SHA256           string     `json:"sha256"` // fingerprint of the DER certificate
	CertificatePEM   string     `json:"certificate"`
	RequestedBy      string     `json:"requested_by,omitempty"`
	IssuedAt         time.Time  `json:"issued_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
}

// MaxCSRSize caps the request accepted for signing.
const MaxCSRSize = 64 << 10

// Sign checks req against the policy of its profile and issues a
// certificate. Policy refusals are KindInvalidInput errors whose reason
// says which rule failed; each issue and refusal is audited.
func (a *Authority) Sign(ctx context.Context, req SignRequest) (Issued, error) {
	iss, subject, err := a.sign(ctx, req)
	ev := core.AuditEvent{Action: core.AuditIssue, Protocol: "ca", OrgID: req.OrgID, PrincipalID: req.PrincipalID,
		Subject: subject, RemoteAddr: req.RemoteAddr, RequestID: req.RequestID}
	if err != nil {
		if k := core.KindOf(err); k == core.KindInvalidInput || k == core.KindForbidden {
			ev.Outcome, ev.Reason = core.OutcomeFailure, "refused: "+core.ReasonOf(err)
			_ = a.deps.Audit.Record(ctx, ev)
		}
		return Issued{}, err
	}
	ev.Subject = "serial " + iss.Record.Serial + " " + subject
	ev.Reason = "profile " + req.Profile + " env " + string(req.Environment) + " issuer " + iss.Record.Issuer
	if err := a.deps.Audit.Record(ctx, ev); err != nil {
		return Issued{}, err
	}
	return iss, nil
}

func refuse(format string, args ...any) error {
	return core.E(core.KindInvalidInput, fmt.Sprintf(format, args...))
}

// ParseCSR reads one PEM or DER PKCS#10 request.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxCSRSize {
		return nil, refuse("certificate request larger than %d bytes", MaxCSRSize)
	}
	der := data
	if b, rest := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, refuse("PEM block is %q, want CERTIFICATE REQUEST", b.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, refuse("exactly one certificate request expected")
		}
		der = b.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, refuse("certificate request does not parse: %v", err)
	}
	return csr, nil
}

// Checked is a request that passed its profile's policy: what the
// certificate will say.
type Checked struct {
	Profile    Profile
	CSR        *x509.CertificateRequest
	Subject    string // the certificate's subject, as text
	RawSubject []byte // and as DER (the partner's own bytes, or the assigned name)
	DNSNames   []string
	IPs        []net.IP
}

// Check applies the policy of req's profile (request signature, key,
// subject, requested extensions, host names) without issuing anything. The
// subject is returned also when a later check fails, for the audit record.
// Sign issues only what Check accepts.
func (a *Authority) Check(req SignRequest) (Checked, error) {
	prof, ok := profiles[req.Profile]
	if !ok {
		return Checked{}, refuse("unknown profile %q (use %s)", req.Profile, strings.Join(ProfileNames(), ", "))
	}
	csr, err := ParseCSR(req.CSR)
	if err != nil {
		return Checked{}, err
	}
	c := Checked{Profile: prof, CSR: csr, Subject: csr.Subject.String(), RawSubject: csr.RawSubject}
	// The key is checked before its signature is: verifying with an
	// oversized key is the cost the size bound exists to avoid.
	if err := checkKey(prof, csr); err != nil {
		return c, err
	}
	if prof.AssignedSubject {
		if req.Device == nil {
			return c, refuse("profile %s: the subject is assigned by authgate from the device's identity; issue device certificates through POST /identities/certificates", prof.Name)
		}
		if err := req.Device.check(); err != nil {
			return c, err
		}
		name := DeviceName(*req.Device)
		if c.RawSubject, err = asn1.Marshal(name.ToRDNSequence()); err != nil {
			return c, core.Wrap(core.KindInternal, "", err)
		}
		c.Subject = name.String()
	}
	if err := csr.CheckSignature(); err != nil {
		return c, refuse("certificate request signature does not verify")
	}
	if csr.Version != 0 {
		return c, refuse("certificate request version %d is not PKCS#10 v1", csr.Version+1)
	}
	if !prof.AssignedSubject {
		if err := a.checkSubject(prof, req, csr); err != nil {
			return c, err
		}
	} else if req.Environment != "" {
		return c, refuse("profile %s takes no environment", prof.Name)
	}
	if err := checkRequestedExtensions(prof, csr); err != nil {
		return c, err
	}
	if c.DNSNames, c.IPs, err = serverNames(prof, csr); err != nil {
		return c, err
	}
	return c, nil
}

func (a *Authority) sign(ctx context.Context, req SignRequest) (Issued, string, error) {
	c, err := a.Check(req)
	prof, csr, subject, rawSubject, dns, ips := c.Profile, c.CSR, c.Subject, c.RawSubject, c.DNSNames, c.IPs
	if err != nil {
		return Issued{}, subject, err
	}
	m, err := a.load(ctx)
	if err != nil {
		return Issued{}, subject, err
	}
	caName := issuerFor(prof, req.Environment)
	is := m.issuers[caName]
	now := a.deps.Clock.Now()
	notAfter, err := a.notAfter(req.Validity, now, is.cert)
	if err != nil {
		return Issued{}, subject, err
	}
	serial, err := a.serial()
	if err != nil {
		return Issued{}, subject, err
	}
	skid, err := cnf.KeyID(csr.PublicKey)
	if err != nil {
		return Issued{}, subject, core.Wrap(core.KindInternal, "", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A partner's subject is copied byte for byte (attribute order and
		// string types stay as the partner asked for them); a device's is
		// the one assigned above.
		RawSubject: rawSubject,
		// Backdated a minute for relying parties whose clocks run slow.
		NotBefore: now.Add(-time.Minute), NotAfter: notAfter,
		KeyUsage: prof.KeyUsage, ExtKeyUsage: prof.ExtKeyUsage,
		BasicConstraintsValid: true, IsCA: false,
		SubjectKeyId: skid,
		DNSNames:     dns, IPAddresses: ips,
	}
	if a.cfg.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{crlURLFor(a.cfg.CRLURL, qualifiedName(caName, m.gen))}
	}
	der, err := x509.CreateCertificate(a.deps.Rand, tmpl, is.cert, csr.PublicKey, is.key)
	if err != nil {
		return Issued{}, subject, core.Wrap(core.KindInternal, "", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Issued{}, subject, core.Wrap(core.KindInternal, "", err)
	}
	chain := []*x509.Certificate{is.cert}
	rec := Record{
		Serial: serial.Text(16), Profile: prof.Name, Issuer: caName, Environment: string(req.Environment), Subject: subject,
		DNSNames: dns, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, CertificatePEM: pemCert(cert),
		RequestedBy: req.PrincipalID, IssuedAt: now,
	}
	if m.gen > 1 {
		rec.Generation = m.gen
	}
	for _, ip := range ips {
		rec.IPAddresses = append(rec.IPAddresses, ip.String())
	}
	sum := sha256.Sum256(der)
	rec.SHA256 = hex.EncodeToString(sum[:])
	data, err := json.Marshal(rec)
	if err != nil {
		return Issued{}, subject, core.Wrap(core.KindInternal, "", err)
	}
	if err := a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCerts, ID: rec.Serial, OrgID: req.OrgID,
		Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		return Issued{}, subject, err
	}
	if prof.Name == "signing" {
		// WS-Security senders may name it by thumbprint or key identifier.
		a.indexKeys(ctx, cert, rec.Serial, now)
	}
	return Issued{Certificate: cert, Chain: chain, Record: rec}, subject, nil
}

func checkKey(prof Profile, csr *x509.CertificateRequest) error {
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		return core.CheckRSAKey(k)
	case *ecdsa.PublicKey:
		if prof.RSAOnly {
			return refuse("profile %s requires an RSA key (ECDSA given)", prof.Name)
		}
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return refuse("ECDSA keys must use P-256 or P-384")
		}
		return nil
	}
	if prof.RSAOnly {
		return refuse("profile %s requires an RSA key", prof.Name)
	}
	return refuse("key type %T is not accepted", csr.PublicKey)
}

// subjectGetters read one subject attribute (all values).
var subjectGetters = map[string]func(pkix.Name) []string{
	"C":            func(n pkix.Name) []string { return n.Country },
	"ST":           func(n pkix.Name) []string { return n.Province },
	"L":            func(n pkix.Name) []string { return n.Locality },
	"O":            func(n pkix.Name) []string { return n.Organization },
	"OU":           func(n pkix.Name) []string { return n.OrganizationalUnit },
	"CN":           func(n pkix.Name) []string { return nonEmpty(n.CommonName) },
	"emailAddress": func(n pkix.Name) []string { return nameValues(n, oidEmail) },
}

var oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func nameValues(n pkix.Name, oid asn1.ObjectIdentifier) []string {
	var out []string
	for _, a := range n.Names {
		if a.Type.Equal(oid) {
			if s, ok := a.Value.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (a *Authority) checkSubject(prof Profile, req SignRequest, csr *x509.CertificateRequest) error {
	n := csr.Subject
	required := prof.Subject
	if required == nil {
		required = a.cfg.RequiredSubject
	}
	for _, attr := range required {
		vals := subjectGetters[attr](n)
		if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
			return refuse("subject has no %s: the subject must name the partner organisation and address (%s)", attr, strings.Join(required, ", "))
		}
	}
	for attr, get := range subjectGetters {
		if len(get(n)) > 1 {
			return refuse("subject has more than one %s", attr)
		}
	}
	if len(n.Country) == 1 && len(n.Country[0]) != 2 {
		return refuse("subject C %q is not a two-letter country code", n.Country[0])
	}
	if prof.NeedsEnvironment && req.Environment == "" {
		return refuse("profile %s needs an environment: TA or PE", prof.Name)
	}
	if req.Environment != "" {
		want := req.Environment.OU()
		if len(n.OrganizationalUnit) != 1 || n.OrganizationalUnit[0] != want {
			return refuse("subject OU must be %q for the %s environment, got %q", want, req.Environment, strings.Join(n.OrganizationalUnit, ","))
		}
	}
	if req.Organisation != "" && (len(n.Organization) != 1 || n.Organization[0] != req.Organisation) {
		return refuse("subject O %q does not match the partner organisation %q", strings.Join(n.Organization, ","), req.Organisation)
	}
	return nil
}

// checkRequestedExtensions refuses requests whose own keyUsage,
// extendedKeyUsage or basicConstraints contradict the profile (an SSL
// server request signed as a signing certificate, a request for a CA).
// The certificate always carries the profile's extensions, never the
// request's; requested extensions that do not contradict are ignored.
func checkRequestedExtensions(prof Profile, csr *x509.CertificateRequest) error {
	for _, e := range csr.Extensions {
		switch {
		case e.Id.Equal(cnf.OIDKeyUsage):
			var bits asn1.BitString
			if _, err := asn1.Unmarshal(e.Value, &bits); err != nil {
				return refuse("requested keyUsage does not parse")
			}
			var ku x509.KeyUsage
			for i := 0; i < 9; i++ {
				if bits.At(i) != 0 {
					ku |= 1 << uint(i)
				}
			}
			if ku != prof.KeyUsage {
				return refuse("requested keyUsage does not match profile %s", prof.Name)
			}
		case e.Id.Equal(cnf.OIDExtKeyUsage):
			var oids []asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(e.Value, &oids); err != nil {
				return refuse("requested extendedKeyUsage does not parse")
			}
			var want []string
			for _, u := range prof.ExtKeyUsage {
				want = append(want, ekuOID[u].String())
			}
			var got []string
			for _, o := range oids {
				got = append(got, o.String())
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				return refuse("requested extendedKeyUsage does not match profile %s", prof.Name)
			}
		case e.Id.Equal(cnf.OIDBasicConstraints):
			var bc struct {
				IsCA bool `asn1:"optional"`
				Len  int  `asn1:"optional,default:-1"`
			}
			if _, err := asn1.Unmarshal(e.Value, &bc); err != nil {
				return refuse("requested basicConstraints does not parse")
			}
			if bc.IsCA {
				return refuse("requests for CA certificates are refused")
			}
		case e.Id.Equal(cnf.OIDSubjectAltName):
			if !prof.ServerNames {
				return refuse("profile %s takes no subjectAltName", prof.Name)
			}
		}
	}
	return nil
}

var ekuOID = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth: cnf.ExtKeyUsageOIDs["serverAuth"],
	x509.ExtKeyUsageClientAuth: cnf.ExtKeyUsageOIDs["clientAuth"],
}

// serverNames returns the SANs of an SSL server certificate: the CN and
// the requested DNS names and addresses, each checked.
func serverNames(prof Profile, csr *x509.CertificateRequest) ([]string, []net.IP, error) {
	if !prof.ServerNames {
		return nil, nil, nil
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, nil, refuse("SSL server certificates name hosts only (no email or URI SANs)")
	}
	var dns []string
	var ips []net.IP
	add := func(name string) error {
		if ip := net.ParseIP(name); ip != nil {
			for _, have := range ips {
				if have.Equal(ip) {
					return nil
				}
			}
			ips = append(ips, ip)
			return nil
		}
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if !validHostname(name) {
			return refuse("%q is not a valid host name", name)
		}
		if !slices.Contains(dns, name) {
			dns = append(dns, name)
		}
		return nil
	}
	if err := add(csr.Subject.CommonName); err != nil {
		return nil, nil, refuse("subject CN must be the server's host name or address: %s", core.ReasonOf(err))
	}
	for _, d := range csr.DNSNames {
		if err := add(d); err != nil {
			return nil, nil, err
		}
	}
	for _, ip := range csr.IPAddresses {
		if err := add(ip.String()); err != nil {
			return nil, nil, err
		}
	}
	if len(dns)+len(ips) > 100 {
		return nil, nil, refuse("more than 100 host names")
	}
	return dns, ips, nil
}

// validHostname accepts LDH labels, with "*." only as the whole first label.
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for i, l := range labels {
		if i == 0 && l == "*" {
			continue
		}
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// notAfter applies the validity rules: at most MaxValidityDays, never past
// the issuing CA. An explicit request that breaks either is refused; the
// default is shortened to fit the CA.
func (a *Authority) notAfter(requested time.Duration, now time.Time, issuer *x509.Certificate) (time.Time, error) {
	maxV := time.Duration(a.cfg.MaxValidityDays) * 24 * time.Hour
	if requested < 0 {
		return time.Time{}, refuse("validity must be positive")
	}
	if requested == 0 {
		t := now.Add(time.Duration(a.cfg.DefaultValidityDays) * 24 * time.Hour)
		if t.After(issuer.NotAfter) {
			t = issuer.NotAfter
		}
		if !t.After(now) {
			return time.Time{}, core.E(core.KindUnavailable, "the issuing CA has expired")
		}
		return t, nil
	}
	if requested > maxV {
		return time.Time{}, refuse("validity of %d days exceeds the maximum of %d days (three years)", requested/(24*time.Hour), a.cfg.MaxValidityDays)
	}
	t := now.Add(requested)
	if t.After(issuer.NotAfter) {
		return time.Time{}, refuse("validity would end after the CA certificate (%s)", issuer.NotAfter.Format(time.DateOnly))
	}
	return t, nil
}
