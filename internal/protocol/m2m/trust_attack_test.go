package m2m_test

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// taSubject is the whole subject acme's TA signing certificate must
// carry (wssectest's attribute order: C, O, OU, CN).
const taSubject = "/C=DE/O=Sample Organization S.E./OU=M2M_TA/CN=ta.sample.org"

// bySubject configures acme as trusted by subject (issued by w.ca)
// instead of by pinned certificate.
func bySubject(subjects ...string) func(w *world, m *m2m.Material) {
	return func(w *world, m *m2m.Material) {
		m.Partners[0].SigningCerts = nil
		m.Partners[0].SigningSubjects = subjects
		m.Partners[0].SigningCA = w.ca.Cert
	}
}

// signerFor signs with a certificate of ca described by l.
func (w *world) signerFor(t *testing.T, ca *wssectest.CA, l wssectest.Leaf) *wssec.Signer {
	t.Helper()
	l.Now = w.now
	c, k := ca.Issue(t, l)
	s, err := wssec.NewSigner(k, c, wssec.SignerOptions{Clock: w.svc.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAttack_PartnerTrustedByCNAlone: a partner trusted by subject is
// matched on the whole subject and on the CA that issued it. A
// certificate with the partner's CN but another organisation, or with
// the partner's whole subject from another trusted CA, is refused.
func TestAttack_PartnerTrustedByCNAlone(t *testing.T) {
	var other *wssectest.CA
	for _, form := range []string{taSubject, "CN=ta.sample.org,OU=M2M_TA,O=Sample Organization S.E.,C=DE"} {
		w := newWorld(t, worldOptions{material: func(w *world, m *m2m.Material) {
			bySubject(form)(w, m)
			// A second CA is trusted for the environment too (another partner's).
			other = wssectest.NewCA(t, "Other Partner CA", 3, w.now)
			m.TrustedCAs.AddCert(other.Cert)
		}})
		cases := []struct {
			name   string
			signer *wssec.Signer
			ok     bool
		}{
			{"the partner's whole subject from its CA", w.signerFor(t, w.ca, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", Slot: 40}), true},
			{"right CN, other O", w.signerFor(t, w.ca, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", O: "Evil Corp", Slot: 41}), false},
			{"right CN and OU, O in other case", w.signerFor(t, w.ca, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", O: "sample organization s.e.", Slot: 42}), false},
			{"whole subject from another trusted CA", w.signerFor(t, other, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", Slot: 43}), false},
		}
		for _, tc := range cases {
			t.Run(form+"/"+tc.name, func(t *testing.T) {
				f, body := w.post(t, m2m.PathMon, w.signedUsageGet(t, tc.signer, w.apiKey))
				if tc.ok {
					if f != nil {
						t.Fatalf("refused: %v\n%s", f, body)
					}
					return
				}
				if f == nil || f.Detail != sdk.ErrCertificateMismatch {
					t.Fatalf("want %s, got %v\n%s", sdk.ErrCertificateMismatch, f, body)
				}
			})
		}
	}
}

// TestAttack_PECertificateOnTAListenerWithTAAPIKey: under CA trust the
// TA listener takes only OU M2M_TA certificates and PE only OU M2M, even
// with the environment's own API key and the partner's CN.
func TestAttack_PECertificateOnTAListenerWithTAAPIKey(t *testing.T) {
	for _, tc := range []struct {
		env, wrongOU, subject string
	}{
		{m2m.EnvTA, "M2M", taSubject},
		{m2m.EnvPE, "M2M_TA", "/C=DE/O=Sample Organization S.E./OU=M2M/CN=ta.sample.org"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			w := newWorld(t, worldOptions{envName: tc.env, material: bySubject(tc.subject)})
			s := w.signerFor(t, w.ca, wssectest.Leaf{CN: "ta.sample.org", OU: tc.wrongOU, Slot: 44})
			f, body := w.post(t, m2m.PathMon, w.signedUsageGet(t, s, w.apiKey))
			if f == nil || f.Detail != sdk.ErrCertificateMismatch || !strings.Contains(f.String, "OU") {
				t.Fatalf("OU %s on %s: want %s, got %v\n%s", tc.wrongOU, tc.env, sdk.ErrCertificateMismatch, f, body)
			}
		})
	}
}

// writeCRL writes a CRL of ca listing serials to path, with the given
// modification time (so a rewrite within the file system's time
// granularity is still a change).
func writeCRL(t *testing.T, ca *wssectest.CA, path string, number int64, mtime time.Time, serials ...*big.Int) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: mtime})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: mtime,
		NextUpdate: mtime.Add(24 * time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, der, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// TestAttack_PartnerCertificateListedInCRLFile: a CRL file configured
// for the environment refuses the certificates it lists, from the start
// and, after the file changes, at the first message after the check
// interval (injected clock), without a restart.
func TestAttack_PartnerCertificateListedInCRLFile(t *testing.T) {
	dir := t.TempDir()
	crlPath := filepath.Join(dir, "ta.crl")
	clock := core.NewManualClock(time.Now().UTC())
	const interval = 30 * time.Second
	var crls *wssec.CRLFiles
	w := newWorld(t, worldOptions{clock: clock, material: func(w *world, m *m2m.Material) {
		writeCRL(t, w.ca, crlPath, 1, w.now.Add(-time.Hour))
		var err error
		if crls, err = wssec.NewCRLFiles([]string{crlPath}, []*x509.Certificate{w.ca.Cert}, interval, clock, w.svc.Log); err != nil {
			t.Fatal(err)
		}
		m.Checkers = append(m.Checkers, crls)
	}})
	send := func() *sdk.Fault {
		clock.Advance(time.Second) // a fresh Timestamp: not a replay
		f, _ := w.post(t, m2m.PathMon, w.signedUsageGet(t, w.client.Signer, w.apiKey))
		return f
	}
	if f := send(); f != nil {
		t.Fatalf("not listed, refused: %v", f)
	}
	writeCRL(t, w.ca, crlPath, 2, w.now.Add(-time.Minute), w.pCert.SerialNumber)
	clock.Advance(interval)
	if f := send(); f == nil || f.Code != "wsse:FailedAuthentication" || !strings.Contains(f.String, "revoked") {
		t.Fatalf("listed after the CRL file changed: want wsse:FailedAuthentication (revoked), got %v", f)
	}
	// A fresh start reads the file as it is now.
	fresh, err := wssec.NewCRLFiles([]string{crlPath}, []*x509.Certificate{w.ca.Cert}, interval, clock, w.svc.Log)
	if err != nil {
		t.Fatal(err)
	}
	mat := w.mat
	mat.Checkers = []wssec.CertificateChecker{fresh}
	w.restart(t, mat)
	if f := send(); f == nil || f.Code != "wsse:FailedAuthentication" {
		t.Fatalf("listed, after a restart: got %v", f)
	}
	// A CRL signed by no trusted CA is a start-up error.
	otherCA := wssectest.NewCA(t, "Unrelated CA", 4, w.now)
	bad := filepath.Join(dir, "bad.crl")
	writeCRL(t, otherCA, bad, 1, w.now)
	if _, err := wssec.NewCRLFiles([]string{bad}, []*x509.Certificate{w.ca.Cert}, interval, clock, nil); err == nil || !strings.Contains(err.Error(), "not signed by a trusted CA") {
		t.Fatalf("CRL of an untrusted CA: %v", err)
	}
}

// TestAttack_TrustedCASharedByTAAndPE: a trusted_cas entry shared by TA
// and PE is a configuration error, by path and by content.
func TestAttack_TrustedCASharedByTAAndPE(t *testing.T) {
	c := m2m.DefaultConfig()
	c.Enabled = true
	c.TA, c.PE = validEnv("ta", "8443"), validEnv("pe", "9443")
	c.TA.TrustedCAs, c.PE.TrustedCAs = []string{"cas/partners.pem"}, []string{"./cas/partners.pem"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "trusted_cas") {
		t.Fatalf("shared trusted_cas path: %v", err)
	}
	// The same CA in two files: refused when the material is compared.
	now := time.Now()
	ca := wssectest.NewCA(t, "Shared CA", 5, now)
	mat := func(slot int) m2m.Material {
		c, k := ca.Issue(t, wssectest.Leaf{Slot: slot, Now: now})
		return m2m.Material{SigningKey: k, SigningCert: c, TrustedCAs: ca.Pool(), TrustedCACerts: []*x509.Certificate{ca.Cert}}
	}
	if err := m2m.CheckSeparated(mat(50), mat(51)); err == nil || !strings.Contains(err.Error(), "both trust the CA") {
		t.Fatalf("shared trusted CA by content: %v", err)
	}
}
