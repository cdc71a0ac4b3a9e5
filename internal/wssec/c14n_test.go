package wssec_test

import (
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// attrWhitespacePayload has literal TAB, LF and CR LF in one attribute
// value and the character references &#9; &#10; &#13; in another. XML 1.0
// 3.3.3: the literal characters are attribute-value normalised to spaces
// on parsing (CR LF first becomes one LF, 2.11); the referenced ones stay
// TAB, LF and CR, which canonical XML writes as &#x9; &#xA; &#xD;.
const attrWhitespacePayload = "<m:SIMUsageGet xmlns:m=\"urn:authgate:m2m:v30\" note=\"a\tb\nc\r\nd\" ref=\"p&#9;q&#10;r&#13;s\" mixed='x&#9;\ty'>" +
	"<m:M2MApiKey>k.s</m:M2MApiKey><m:ICCID>8949020000000000001</m:ICCID></m:SIMUsageGet>"

// attrWhitespaceC14N is that payload's exclusive canonical form inside
// the signed Body (the golden bytes both sides digest).
const attrWhitespaceC14N = `<m:SIMUsageGet xmlns:m="urn:authgate:m2m:v30" mixed="x&#x9; y" note="a b c d" ref="p&#x9;q&#xA;r&#xD;s">` +
	`<m:M2MApiKey>k.s</m:M2MApiKey><m:ICCID>8949020000000000001</m:ICCID></m:SIMUsageGet>`

// TestC14N_AttributeWhitespace_Xmlsec1: a message whose signed Body has
// literal TAB and LF inside attribute values, signed by xmlsec1, verifies
// in authgate (it was "digest of Body does not match": the values were
// canonicalised without XML's attribute-value normalisation), and the
// Body handed out is the golden canonical form. The other way, a message
// authgate signs from the same payload verifies in xmlsec1 and carries
// the same canonical Body.
func TestC14N_AttributeWhitespace_Xmlsec1(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	f := newFixture(t)
	msg := wssectest.XMLSec1Sign(t, bin, wssectest.Template(attrWhitespacePayload, `<ds:X509Data><ds:X509Certificate/></ds:X509Data>`, f.now, f.now.Add(wssec.DefaultTTL)), f.cert, f.key)
	// libxml2 writes the normalised value out; a sender's serializer may
	// write the literal characters, which mean the same: put them back.
	if !strings.Contains(string(msg), `note="a b c d"`) {
		t.Fatalf("unexpected xmlsec1 output:\n%s", msg)
	}
	msg = []byte(strings.Replace(string(msg), `note="a b c d"`, "note=\"a\tb\nc\r\nd\"", 1))
	if out, err := wssectest.XMLSec1Verify(t, bin, msg, f.cert, f.ca.Cert); err != nil {
		t.Fatalf("xmlsec1 does not verify its own message: %v\n%s", err, out)
	}
	got, err := f.verifier(t, wssec.Policy{Pinned: f.pinned()}).Verify(msg)
	if err != nil {
		t.Fatalf("authgate refused xmlsec1's message: %v", err)
	}
	if body := payloadC14N(t, got.BodyC14N); body != attrWhitespaceC14N {
		t.Fatalf("canonical payload\n got %s\nwant %s", body, attrWhitespaceC14N)
	}

	signed, err := f.signer(t, wssec.SignerOptions{}).Sign([]byte(attrWhitespacePayload))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := wssectest.XMLSec1Verify(t, bin, signed, f.cert, f.ca.Cert); err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("xmlsec1 refused authgate's message (%v):\n%s\n%s", err, out, signed)
	}
	back, err := f.verifier(t, wssec.Policy{}).Verify(signed)
	if err != nil {
		t.Fatal(err)
	}
	if body := payloadC14N(t, back.BodyC14N); body != attrWhitespaceC14N {
		t.Fatalf("authgate's canonical payload\n got %s\nwant %s", body, attrWhitespaceC14N)
	}
}

// payloadC14N cuts the payload out of a canonical soap:Body.
func payloadC14N(t *testing.T, body []byte) string {
	t.Helper()
	s := string(body)
	i, j := strings.Index(s, "<m:SIMUsageGet"), strings.LastIndex(s, "</soap:Body>")
	if i < 0 || j < i {
		t.Fatalf("no payload in %s", s)
	}
	return s[i:j]
}
