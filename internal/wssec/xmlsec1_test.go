package wssec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// TestXMLSec1VerifiesSigner: the xmlsec1 command line tool (libxmlsec1,
// written by nobody here) verifies what the Signer produces, given the
// signing certificate and the CA; and it refuses a tampered copy.
func TestXMLSec1VerifiesSigner(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	f := newFixture(t)
	for _, opt := range []wssec.SignerOptions{{}, {InclusivePrefixes: []string{"soap", "wsse"}}} {
		msg, err := f.signer(t, opt).Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		out, err := wssectest.XMLSec1Verify(t, bin, msg, f.cert, f.ca.Cert)
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("xmlsec1 refused the signature (%v):\n%s", err, out)
		}
		t.Logf("xmlsec1: %s", strings.TrimSpace(string(out)))
	}
	bad := bytes.Replace(f.sign(t), []byte("8949020000000000001"), []byte("8949020000000000009"), 1)
	out, err := wssectest.XMLSec1Verify(t, bin, bad, f.cert, f.ca.Cert)
	if err == nil || !strings.Contains(string(out), "FAIL") {
		t.Fatalf("xmlsec1 accepted a tampered body:\n%s", out)
	}
}
