package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca/cnf"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var (
	rsa2048 = mustRSA(2048)
	rsa1024 = mustRSA(1024)
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func extReq(oid asn1.ObjectIdentifier, v any) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) {
		b, err := asn1.Marshal(v)
		if err != nil {
			panic(err)
		}
		r.ExtraExtensions = append(r.ExtraExtensions, pkix.Extension{Id: oid, Value: b})
	}
}

func TestPolicyRejections(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ta := partnerName("M2M_TA", "ta.sample.org")
	good := makeCSR(t, rsa2048, ta, nil)

	badSig := func() []byte {
		b, _ := pem.Decode(good)
		der := bytes.Clone(b.Bytes)
		der[len(der)-5] ^= 0xff // inside the signature value
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}()
	noOrg := ta
	noOrg.Organization = nil
	twoOU := ta
	twoOU.OrganizationalUnit = []string{"M2M_TA", "M2M"}
	badCountry := ta
	badCountry.Country = []string{"DEU"}

	tests := []struct {
		name    string
		req     SignRequest
		wantErr string
	}{
		{"RSA 1024", SignRequest{CSR: makeCSR(t, rsa1024, ta, nil), Profile: "signing", Environment: EnvTA}, "1024 bits; 2048 to 4096 bits are accepted"},
		{"ECDSA where RSA is required", SignRequest{CSR: makeCSR(t, ecKey, ta, nil), Profile: "signing", Environment: EnvTA}, "requires an RSA key"},
		{"ECDSA for ssl-server", SignRequest{CSR: makeCSR(t, ecKey, ta, nil), Profile: "ssl-server", Environment: EnvTA}, "requires an RSA key"},
		{"bad CSR signature", SignRequest{CSR: badSig, Profile: "signing", Environment: EnvTA}, "signature does not verify"},
		{"wrong OU for PE", SignRequest{CSR: good, Profile: "signing", Environment: EnvPE}, `OU must be "M2M" for the PE environment`},
		{"wrong OU for TA", SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", "m2m.sample.org"), nil), Profile: "signing", Environment: EnvTA}, `OU must be "M2M_TA"`},
		{"validity over 3 years", SignRequest{CSR: good, Profile: "signing", Environment: EnvTA, Validity: 1097 * 24 * time.Hour}, "exceeds the maximum of 1096 days"},
		{"missing organisation", SignRequest{CSR: makeCSR(t, rsa2048, noOrg, nil), Profile: "signing", Environment: EnvTA}, "subject has no O"},
		{"missing environment", SignRequest{CSR: good, Profile: "signing"}, "needs an environment"},
		{"unknown profile", SignRequest{CSR: good, Profile: "ca", Environment: EnvTA}, "unknown profile"},
		{"two OUs", SignRequest{CSR: makeCSR(t, rsa2048, twoOU, nil), Profile: "signing", Environment: EnvTA}, "more than one OU"},
		{"three-letter country", SignRequest{CSR: makeCSR(t, rsa2048, badCountry, nil), Profile: "signing", Environment: EnvTA}, "two-letter country"},
		{"other partner", SignRequest{CSR: good, Profile: "signing", Environment: EnvTA, Organisation: "Other GmbH"}, "does not match the partner organisation"},
		{"CA requested", SignRequest{CSR: makeCSR(t, rsa2048, ta, extReq(cnf.OIDBasicConstraints, struct{ IsCA bool }{true})), Profile: "signing", Environment: EnvTA}, "CA certificates are refused"},
		{"server EKU as signing", SignRequest{CSR: makeCSR(t, rsa2048, ta, extReq(cnf.OIDExtKeyUsage, []asn1.ObjectIdentifier{cnf.ExtKeyUsageOIDs["serverAuth"]})), Profile: "signing", Environment: EnvTA}, "extendedKeyUsage does not match"},
		{"keyEncipherment as signing", SignRequest{CSR: makeCSR(t, rsa2048, ta, extReq(cnf.OIDKeyUsage, asn1.BitString{Bytes: []byte{0xa0}, BitLength: 3})), Profile: "signing", Environment: EnvTA}, "keyUsage does not match"},
		{"SAN on signing", SignRequest{CSR: makeCSR(t, rsa2048, ta, func(r *x509.CertificateRequest) { r.DNSNames = []string{"x.example"} }), Profile: "signing", Environment: EnvTA}, "takes no subjectAltName"},
		{"server CN not a host", SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "Sample Server"), nil), Profile: "ssl-server", Environment: EnvTA}, "CN must be the server's host name"},
		{"email SAN on server", SignRequest{CSR: makeCSR(t, rsa2048, ta, func(r *x509.CertificateRequest) { r.EmailAddresses = []string{"a@b.example"} }), Profile: "ssl-server", Environment: EnvTA}, "name hosts only"},
		{"negative validity", SignRequest{CSR: good, Profile: "signing", Environment: EnvTA, Validity: -time.Hour}, "validity must be positive"},
		{"not a CSR", SignRequest{CSR: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), Profile: "signing", Environment: EnvTA}, "want CERTIFICATE REQUEST"},
		{"garbage", SignRequest{CSR: []byte("hello"), Profile: "signing", Environment: EnvTA}, "does not parse"},
		{"two CSRs", SignRequest{CSR: append(bytes.Clone(good), good...), Profile: "signing", Environment: EnvTA}, "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Sign(ctx, tt.req)
			if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(core.ReasonOf(err), tt.wantErr) {
				t.Fatalf("err = %v, want invalid input %q", err, tt.wantErr)
			}
		})
	}
	// Every refusal is audited with its reason.
	events, err := svc.Audit.List(ctx, core.AuditFilter{Protocol: "ca", Action: core.AuditIssue})
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for _, e := range events {
		if e.Outcome == core.OutcomeFailure && strings.HasPrefix(e.Reason, "refused: ") {
			failures++
		}
	}
	if failures != len(tests) {
		t.Errorf("%d refusals audited, want %d", failures, len(tests))
	}
	// The same request within policy is issued.
	if _, err := a.Sign(ctx, SignRequest{CSR: good, Profile: "signing", Environment: EnvTA}); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
}

func TestValidityNeverBeyondCA(t *testing.T) {
	a, _, _ := newCA(t, InitOptions{Algorithm: "ecdsa", RootValidity: 400 * 24 * time.Hour})
	ctx := context.Background()
	csr := makeCSR(t, rsa2048, partnerName("M2M", "m2m.sample.org"), nil)
	_, err := a.Sign(ctx, SignRequest{CSR: csr, Profile: "signing", Environment: EnvPE, Validity: 500 * 24 * time.Hour})
	if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(err.Error(), "after the CA certificate") {
		t.Fatalf("err = %v", err)
	}
	iss, err := a.Sign(ctx, SignRequest{CSR: csr, Profile: "signing", Environment: EnvPE})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := a.Root(ctx)
	if !iss.Certificate.NotAfter.Equal(root.NotAfter) {
		t.Errorf("default validity ends %v, CA ends %v: want it shortened to the CA", iss.Certificate.NotAfter, root.NotAfter)
	}
	iss, err = a.Sign(ctx, SignRequest{CSR: csr, Profile: "signing", Environment: EnvPE, Validity: 30 * 24 * time.Hour})
	if err != nil || iss.Certificate.NotAfter.Sub(t0) != 30*24*time.Hour {
		t.Fatalf("30 days: %v %v", err, iss.Certificate.NotAfter)
	}
}

func TestProfilesAndDevice(t *testing.T) {
	a, _, _ := newCA(t, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, ecKey, pkix.Name{Organization: []string{"Fleet"}, CommonName: "device-0042"}, nil), Profile: "device",
		Device: &DeviceSubject{DeviceID: "p0042", OrgID: "org7"}})
	if err != nil {
		t.Fatalf("device: %v", err)
	}
	c := dev.Certificate
	if got := c.Subject.String(); got != "CN=p0042,OU=device,O=org7" || dev.Record.Subject != got || dev.Record.Issuer != CADevice {
		t.Errorf("device subject %q (record %q, issuer %q): want authgate's, not the request's", got, dev.Record.Subject, dev.Record.Issuer)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || c.IsCA || len(c.DNSNames) != 0 {
		t.Errorf("device certificate: ku %v eku %v ca %v", c.KeyUsage, c.ExtKeyUsage, c.IsCA)
	}
	// A device's names are authgate's: a request for SANs is refused, and
	// without the device's identity nothing is issued.
	withSAN := makeCSR(t, ecKey, pkix.Name{CommonName: "x"}, func(r *x509.CertificateRequest) { r.DNSNames = []string{"ta.sample.org"} })
	if _, err := a.Sign(ctx, SignRequest{CSR: withSAN, Profile: "device", Device: &DeviceSubject{DeviceID: "p1", OrgID: "o1"}}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("device CSR with SANs: %v", err)
	}
	if _, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, ecKey, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "device"}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("device certificate without a device: %v", err)
	}
	// SANs of an SSL server: CN plus the requested names, deduplicated.
	srv, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", "m2m.sample.org"), func(r *x509.CertificateRequest) {
		r.DNSNames = []string{"M2M.sample.org", "api.sample.org"}
		r.IPAddresses = []net.IP{net.ParseIP("192.0.2.7")}
	}), Profile: "ssl-server", Environment: EnvPE})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(srv.Certificate.DNSNames, ","); got != "m2m.sample.org,api.sample.org" || len(srv.Certificate.IPAddresses) != 1 {
		t.Errorf("SANs %s %v", got, srv.Certificate.IPAddresses)
	}
	// Chain verification with crypto/x509, purpose by purpose.
	root, _ := a.Root(ctx)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(srv.Chain[0])
	inter.AddCert(dev.Chain[0])
	if dev.Chain[0].Equal(srv.Chain[0]) || !strings.Contains(dev.Chain[0].Subject.CommonName, "Device CA") || !strings.Contains(srv.Chain[0].Subject.CommonName, "M2M PE CA") {
		t.Errorf("issuers: device %q, ssl-server PE %q", dev.Chain[0].Subject, srv.Chain[0].Subject)
	}
	if _, err := srv.Certificate.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "api.sample.org", CurrentTime: t0.Add(time.Hour)}); err != nil {
		t.Errorf("server chain: %v", err)
	}
	if _, err := dev.Certificate.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: t0.Add(time.Hour)}); err != nil {
		t.Errorf("device chain: %v", err)
	}
	if _, err := dev.Certificate.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, CurrentTime: t0.Add(time.Hour)}); err == nil {
		t.Error("device certificate verified for serverAuth")
	}
	// Serials are distinct, positive and large.
	if dev.Certificate.SerialNumber.Cmp(srv.Certificate.SerialNumber) == 0 || dev.Certificate.SerialNumber.BitLen() < 64 {
		t.Error("weak serials")
	}
}

func TestKeySealedInStore(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	root, _ := a.Root(ctx)
	d, err := svc.Store.GetDocument(ctx, collCA, idAuthority)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(d.Data, []byte("PRIVATE KEY")) {
		t.Fatal("CA key stored in clear")
	}
	// A second Init is refused; a fresh Authority on the same store signs
	// with the stored key.
	if _, err := a.Init(ctx, InitOptions{}); core.KindOf(err) != core.KindConflict {
		t.Fatalf("second Init: %v", err)
	}
	b := New(DefaultConfig(), DepsFrom(svc))
	iss, err := b.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", "m2m.sample.org"), nil), Profile: "signing", Environment: EnvPE})
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Certificate.CheckSignatureFrom(iss.Chain[0]); err != nil {
		t.Fatal(err)
	}
	if err := iss.Chain[0].CheckSignatureFrom(root); err != nil {
		t.Fatal(err)
	}
	// Another master key cannot open it.
	other, _ := agtest.NewServices(t, agtest.Options{})
	deps := DepsFrom(svc)
	deps.Keys = other.Keys
	if _, err := New(DefaultConfig(), deps).Root(ctx); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("foreign master key: %v", err)
	}
	// Not initialised: an operator hint, as Unavailable.
	empty, _ := agtest.NewServices(t, agtest.Options{})
	if _, err := New(DefaultConfig(), DepsFrom(empty)).CRL(ctx); core.KindOf(err) != core.KindUnavailable || !strings.Contains(err.Error(), "authgate ca init") {
		t.Fatalf("uninitialised: %v", err)
	}
}

func TestRevocationAndCRL(t *testing.T) {
	a, svc, clock := newCA(t, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	var issued []Issued
	for _, cn := range []string{"m2m.sample.org", "api.sample.org"} {
		iss, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", cn), nil), Profile: "ssl-server", Environment: EnvPE})
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, iss)
	}
	issuer := issued[0].Chain[0]

	crl0 := parseCRL(t, a, issuer)
	if len(crl0.RevokedCertificateEntries) != 0 || crl0.Number.Int64() != 1 {
		t.Fatalf("first CRL: %d entries, number %v", len(crl0.RevokedCertificateEntries), crl0.Number)
	}
	if again := parseCRL(t, a, issuer); again.Number.Int64() != 1 {
		t.Error("unchanged CRL was re-signed")
	}

	clock.Advance(time.Hour)
	rec, err := a.Revoke(ctx, RevokeRequest{Serial: strings.ToUpper(issued[0].Record.Serial), Reason: "keyCompromise", PrincipalID: "admin-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.RevokedAt == nil || !rec.RevokedAt.Equal(clock.Now()) || rec.RevocationReason != "keyCompromise" {
		t.Errorf("record after revoke: %+v", rec)
	}
	crl1 := parseCRL(t, a, issuer)
	if crl1.Number.Int64() != 2 || len(crl1.RevokedCertificateEntries) != 1 {
		t.Fatalf("CRL after revoke: number %v, %d entries", crl1.Number, len(crl1.RevokedCertificateEntries))
	}
	e := crl1.RevokedCertificateEntries[0]
	if e.SerialNumber.Cmp(issued[0].Certificate.SerialNumber) != 0 || e.ReasonCode != 1 || !e.RevocationTime.Equal(clock.Now()) {
		t.Errorf("entry %v reason %d at %v", e.SerialNumber, e.ReasonCode, e.RevocationTime)
	}
	if !crl1.NextUpdate.Equal(clock.Now().Add(7 * 24 * time.Hour)) {
		t.Errorf("nextUpdate %v", crl1.NextUpdate)
	}

	// Errors: twice, unknown, bad serial, bad reason.
	if _, err := a.Revoke(ctx, RevokeRequest{Serial: issued[0].Record.Serial}); core.KindOf(err) != core.KindConflict {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := a.Revoke(ctx, RevokeRequest{Serial: "abcdef"}); core.KindOf(err) != core.KindNotFound {
		t.Errorf("unknown serial: %v", err)
	}
	if _, err := a.Revoke(ctx, RevokeRequest{Serial: "xyz"}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("bad serial: %v", err)
	}
	if _, err := a.Revoke(ctx, RevokeRequest{Serial: issued[1].Record.Serial, Reason: "boredom"}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("bad reason: %v", err)
	}

	// A second node (fresh Authority, same store) serves the same CRL.
	b := New(DefaultConfig(), DepsFrom(svc))
	if der, _ := b.CRLOf(ctx, CAM2MPE); !bytes.Equal(der, crl1.Raw) {
		t.Error("second node serves another CRL")
	}
	// After the refresh interval the CRL is re-signed with a higher number.
	clock.Advance(25 * time.Hour)
	if crl2 := parseCRL(t, a, issuer); crl2.Number.Int64() != 3 || len(crl2.RevokedCertificateEntries) != 1 {
		t.Errorf("refreshed CRL: number %v", crl2.Number)
	}

	// The real openssl reads the CRL, checks its signature and sees the
	// revoked serial; `openssl verify -crl_check` refuses the certificate.
	dir := t.TempDir()
	der, _ := a.CRLOf(ctx, CAM2MPE)
	root, _ := a.Root(ctx)
	crlFile := writeFile(t, dir, "crl.pem", CRLPEM(der))
	chainFile := writeFile(t, dir, "chain.pem", []byte(pemCert(issuer)+pemCert(root)))
	out, err := runOpenSSL(t, dir, "crl", "-in", crlFile, "-noout", "-text", "-CAfile", chainFile)
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	wantSerial := strings.ToUpper(issued[0].Certificate.SerialNumber.Text(16))
	if !strings.Contains(strings.ReplaceAll(out, " ", ""), "SerialNumber:"+wantSerial) && !strings.Contains(out, wantSerial) {
		t.Errorf("openssl crl does not list %s:\n%s", wantSerial, out)
	}
	if !strings.Contains(out, "Key Compromise") {
		t.Errorf("reason missing:\n%s", out)
	}
	derFile := filepath.Join(dir, "crl.der")
	if err := os.WriteFile(derFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runOpenSSL(t, dir, "crl", "-inform", "DER", "-in", derFile, "-noout", "-crlnumber"); err != nil || !strings.Contains(out, "crlNumber=0x03") {
		t.Errorf("openssl crl -inform DER: %v %s", err, out)
	}
	at := []string{"-attime", "1773000000"}
	rootFile := writeFile(t, dir, "root.pem", []byte(pemCert(root)))
	interFile := writeFile(t, dir, "inter.pem", []byte(pemCert(issuer)))
	// CRL for the issuing CA only (-crl_check checks the leaf).
	for i, want := range []string{"certificate revoked", ": OK"} {
		leaf := writeFile(t, dir, "leaf.pem", []byte(pemCert(issued[i].Certificate)))
		args := append([]string{"verify", "-crl_check", "-CAfile", rootFile, "-untrusted", interFile, "-CRLfile", crlFile}, at...)
		out, _ := runOpenSSL(t, dir, append(args, leaf)...)
		if !strings.Contains(out, want) {
			t.Errorf("verify -crl_check cert %d: want %q in\n%s", i, want, out)
		}
	}
	// Revocations are audited.
	events, _ := svc.Audit.List(ctx, core.AuditFilter{Protocol: "ca", Action: core.AuditRevoke})
	if len(events) != 1 || events[0].Reason != "keyCompromise" {
		t.Errorf("revoke audit: %+v", events)
	}
}

func parseCRL(t *testing.T, a *Authority, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	der, err := a.CRLOf(context.Background(), CAM2MPE)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return crl
}

func TestNormaliseSerial(t *testing.T) {
	for in, want := range map[string]string{"0A:1b": "a1b", "0x00ff": "ff", "ABC": "abc"} {
		if got, err := NormaliseSerial(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "-1", "zz", strings.Repeat("f", 41)} {
		if _, err := NormaliseSerial(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRecordJSON(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	iss, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "ssl-server", Environment: EnvTA, OrgID: "org-1", PrincipalID: "p-1"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Store.GetDocument(ctx, collCerts, iss.Record.Serial)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := json.Unmarshal(d.Data, &rec); err != nil {
		t.Fatal(err)
	}
	if d.OrgID != "org-1" || rec.RequestedBy != "p-1" || rec.Profile != "ssl-server" || rec.Environment != "TA" ||
		rec.CertificatePEM != pemCert(iss.Certificate) || len(rec.SHA256) != 64 || rec.DNSNames[0] != "ta.sample.org" {
		t.Errorf("record %+v", rec)
	}
	n, _ := new(big.Int).SetString(rec.Serial, 16)
	if n.Cmp(iss.Certificate.SerialNumber) != 0 {
		t.Error("serial mismatch")
	}
	list, total, err := a.List(ctx, "org-1", core.Page{})
	if err != nil || total != 1 || list[0].Serial != rec.Serial {
		t.Errorf("List: %v %d %v", list, total, err)
	}
}

// BenchmarkSign measures policy checks + signing + recording per CSR.
func BenchmarkSign(b *testing.B) {
	a, _, _ := newCA(b, InitOptions{Algorithm: "ecdsa"})
	csr := makeCSR(b, rsa2048, partnerName("M2M", "m2m.sample.org"), nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Sign(ctx, SignRequest{CSR: csr, Profile: "signing", Environment: EnvPE}); err != nil {
			b.Fatal(err)
		}
	}
}

var _ crypto.Signer = rsa2048

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"over three years":   func(c *Config) { c.MaxValidityDays = 1500 },
		"default beyond max": func(c *Config) { c.DefaultValidityDays = 2000 },
		"short CRL":          func(c *Config) { c.CRLValidity = time.Minute },
		"refresh beyond CRL": func(c *Config) { c.CRLRefresh = 30 * 24 * time.Hour },
		"unknown attribute":  func(c *Config) { c.RequiredSubject = []string{"O", "Shoe size"} },
		"zero default":       func(c *Config) { c.DefaultValidityDays = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
