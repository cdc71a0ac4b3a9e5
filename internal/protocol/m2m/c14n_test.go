package m2m_test

import (
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// TestC14N_AttributeWhitespaceOverHTTPS_Xmlsec1: a SIMUsageGet signed by
// xmlsec1 whose payload element carries literal TAB and LF in an
// attribute value (xmlsec1 verifies it) is answered on the M2MMon
// endpoint; it was refused with "digest of Body does not match".
func TestC14N_AttributeWhitespaceOverHTTPS_Xmlsec1(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	w := newWorld(t, worldOptions{})
	now := w.svc.Clock.Now()
	payload := strings.Replace(w.usageGet(t), "<SIMUsageGet ", `<SIMUsageGet note="a b c" `, 1)
	if payload == w.usageGet(t) {
		t.Fatalf("unexpected payload %s", payload)
	}
	msg := wssectest.XMLSec1Sign(t, bin, wssectest.Template(payload, `<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>`, now, now.Add(wssec.DefaultTTL)), w.pCert, w.pKey)
	msg = []byte(strings.Replace(string(msg), `note="a b c"`, "note=\"a\tb\nc\"", 1))
	if !strings.Contains(string(msg), "note=\"a\tb\nc\"") {
		t.Fatalf("no literal whitespace in the message:\n%s", msg)
	}
	if out, err := wssectest.XMLSec1Verify(t, bin, msg, w.pCert, w.ca.Cert); err != nil {
		t.Fatalf("xmlsec1 refused the message: %v\n%s", err, out)
	}
	f, body := w.post(t, m2m.PathMon, msg)
	if f != nil || !strings.Contains(string(body), "SIMUsageResponse") {
		t.Fatalf("refused: %v\n%s", f, body)
	}
}
