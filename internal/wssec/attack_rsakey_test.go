package wssec_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/keytest"
	"github.com/authgate/authgate/internal/wssec"
)

// A partner certificate (even one the trusted CA signed) carrying an
// oversized RSA key is refused before any signature is verified with it.
func TestAttack_OversizedRSAKeyInPartnerCertificate(t *testing.T) {
	f := newFixture(t)
	for _, bits := range []int{4097, 8192} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(bits)), Subject: pkix.Name{CommonName: "partner.example", OrganizationalUnit: []string{"M2M_TA"}},
			NotBefore: f.now.Add(-1e12), NotAfter: f.now.Add(1e15), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, f.ca.Cert, keytest.FakeRSAKey(bits), f.ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		doc := parse(t, f.sign(t))
		doc.FindElement("//BinarySecurityToken").SetText(base64.StdEncoding.EncodeToString(der))
		_, err = f.verifier(t, wssec.Policy{}).Verify(write(t, doc))
		var we *wssec.Error
		if !errors.As(err, &we) || we.Code != wssec.CodeInvalidSecurityToken || !strings.Contains(we.Reason, "2048 to 4096 bits are accepted") {
			t.Errorf("%d-bit certificate: err = %v, want the key size refused", bits, err)
		}
	}
}
