package m2m_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

func (w *world) usageGet(t *testing.T) string {
	t.Helper()
	b, err := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: iccid})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeyReference_FormsOverHTTPS: SIMUsageGet signed by python3-zeep /
// python3-xmlsec and by xmlsec1 with each key reference form Java, .NET
// and Python stacks send is answered on the M2MMon endpoint, resolved
// against the partner's pinned certificate; signed with a certificate
// of the trusted CA that is not registered it is refused with
// SecurityTokenUnavailable and the reason.
func TestKeyReference_FormsOverHTTPS(t *testing.T) {
	py := wssectest.RequireZeep(t)
	bin := wssectest.RequireXMLSec1(t)
	w := newWorld(t, worldOptions{})
	now := w.svc.Clock.Now()
	exp := now.Add(wssec.DefaultTTL)
	stranger, strangerKey := w.ca.Issue(t, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", Slot: 45, Now: w.now})
	for _, mode := range []string{"zeep-binary", "zeep-issuerserial", "ds-issuerserial", "str-issuerserial", "keyid-ski", "keyid-thumbprint", "xmlsec1-issuerserial"} {
		t.Run(mode, func(t *testing.T) {
			sign := func(c *x509.Certificate, k *rsa.PrivateKey) []byte {
				if mode == "xmlsec1-issuerserial" {
					return wssectest.XMLSec1Sign(t, bin, wssectest.Template(w.usageGet(t), `<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>`, now, exp), c, k)
				}
				return wssectest.PySign(t, py, mode, wssectest.Unsigned(w.usageGet(t), now, exp), c, k)
			}
			f, body := w.post(t, m2m.PathMon, sign(w.pCert, w.pKey))
			if f != nil || !strings.Contains(string(body), "SIMUsageResponse") {
				t.Fatalf("refused: %v\n%s", f, body)
			}
			if mode == "zeep-binary" {
				return // carries its certificate, which the CA vouches for
			}
			f, body = w.post(t, m2m.PathMon, sign(stranger, strangerKey))
			if f == nil || f.Code != "wsse:SecurityTokenUnavailable" || !strings.Contains(f.String, "no registered certificate matches") {
				t.Fatalf("unregistered certificate: %v\n%s", f, body)
			}
		})
	}
}

// TestKeyReference_AuthgateCA: a partner trusted by subject whose TA
// signing certificate authgate's own CA issued names it by
// X509IssuerSerial, X509SubjectKeyIdentifier, X509SKI or ThumbprintSHA1
// (python3-xmlsec); the certificate is found in the CA's records for this
// environment (by serial, or through its key index), chains to the CA and
// passes the revocation check. A PE certificate of the same CA and
// subject is not found on TA, and after `ca revoke` every form is refused.
func TestKeyReference_AuthgateCA(t *testing.T) {
	py := wssectest.RequireZeep(t)
	var authority *ca.Authority
	var issued, pe ca.Issued
	key := wssectest.Key(t, 2048, 46)
	w := newWorld(t, worldOptions{
		material: func(w *world, m *m2m.Material) {
			ctx := context.Background()
			authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(w.svc))
			if _, err := authority.Init(ctx, ca.InitOptions{Algorithm: "rsa", RSABits: 2048}); err != nil {
				t.Fatal(err)
			}
			csr := func(ou string) []byte {
				subj := pkix.Name{Country: []string{"DE"}, Province: []string{"North-Rhine-Westfalia"}, Locality: []string{"Bonn"},
					Organization: []string{"Sample Organization S.E."}, OrganizationalUnit: []string{ou}, CommonName: "ta.sample.org"}
				der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subj}, key)
				if err != nil {
					t.Fatal(err)
				}
				return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
			}
			var err error
			if issued, err = authority.Sign(ctx, ca.SignRequest{CSR: csr("M2M_TA"), Profile: "signing", Environment: ca.EnvTA}); err != nil {
				t.Fatal(err)
			}
			if pe, err = authority.Sign(ctx, ca.SignRequest{CSR: csr("M2M"), Profile: "signing", Environment: ca.EnvPE}); err != nil {
				t.Fatal(err)
			}
			root, _ := authority.Root(ctx)
			m.TrustedCAs.AddCert(root)
			m.TrustedCAs.AddCert(issued.Chain[0])
			m.Partners[0].SigningCerts = nil
			m.Partners[0].SigningCA = issued.Chain[0]
			m.Partners[0].SigningSubjects = []string{issued.Certificate.Subject.String()}
		},
		deps: func(w *world, d *m2m.Deps) { d.CA = authority },
	})
	if len(issued.Certificate.SubjectKeyId) == 0 {
		t.Fatal("the CA wrote no subject key identifier")
	}
	now := w.svc.Clock.Now()
	forms := []string{"ds-issuerserial", "str-issuerserial", "keyid-ski", "ds-ski", "keyid-thumbprint"}
	msg := func(mode string, c *x509.Certificate) []byte {
		return wssectest.PySign(t, py, mode, wssectest.Unsigned(w.usageGet(t), now, now.Add(wssec.DefaultTTL)), c, key)
	}
	for _, mode := range forms {
		f, body := w.post(t, m2m.PathMon, msg(mode, issued.Certificate))
		if f != nil || !strings.Contains(string(body), "SIMUsageResponse") {
			t.Fatalf("%s refused: %v\n%s", mode, f, body)
		}
		if strings.HasSuffix(mode, "-ski") {
			// One key for both: the identifier names the TA certificate,
			// which this key may sign for. The other forms tell them apart.
			continue
		}
		f, body = w.post(t, m2m.PathMon, msg(mode, pe.Certificate))
		if f == nil || !strings.Contains(f.String, "no registered certificate matches") {
			t.Fatalf("%s: PE certificate on TA: %v\n%s", mode, f, body)
		}
	}
	if _, err := authority.Revoke(context.Background(), ca.RevokeRequest{Serial: issued.Record.Serial, Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range forms {
		f, body := w.post(t, m2m.PathMon, msg(mode, issued.Certificate))
		if f == nil || !strings.Contains(f.String, "revoked") {
			t.Fatalf("%s: revoked certificate: %v\n%s", mode, f, body)
		}
	}
}
