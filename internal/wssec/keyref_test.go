package wssec_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// keyRefFixture is a partner certificate with a subject key identifier
// extension (ski) and one without (plain), both pinned.
func keyRefFixture(t *testing.T) (*fixture, *x509.Certificate) {
	f := newFixture(t)
	ski := []byte("0123456789abcdefghij")
	c, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", SubjectKeyID: ski})
	return f, c
}

// TestKeyReference_Forms_ZeepXmlsec: each key reference form Java, .NET
// and Python stacks send, produced by python3-zeep / python3-xmlsec, is
// resolved against the pinned certificates and verifies; the same message
// is refused by a verifier that pins another certificate (the message
// never supplies the key itself), and ds:KeyName is refused by name.
func TestKeyReference_Forms_ZeepXmlsec(t *testing.T) {
	py := wssectest.RequireZeep(t)
	f, withSKI := keyRefFixture(t)
	other, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", Slot: 7})
	unsigned := wssectest.Unsigned(payload, f.now, f.now.Add(wssec.DefaultTTL))
	for _, tc := range []struct {
		mode string
		cert *x509.Certificate
		form wssec.KeyForm
	}{
		{"zeep-binary", f.cert, wssec.KeyBinaryToken},
		{"zeep-issuerserial", f.cert, wssec.KeyCertificate}, // libxmlsec1 leaves its X509IssuerSerial empty
		{"ds-issuerserial", f.cert, wssec.KeyIssuerSerial},
		{"str-issuerserial", f.cert, wssec.KeyIssuerSerial},
		{"ds-ski", withSKI, wssec.KeySubjectKeyIdentifier},
		{"keyid-ski", withSKI, wssec.KeySubjectKeyIdentifier},
		{"keyid-ski", f.cert, wssec.KeySubjectKeyIdentifier}, // no extension: RFC 5280 method (1)
		{"keyid-thumbprint", f.cert, wssec.KeyThumbprintSHA1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			msg := wssectest.PySign(t, py, tc.mode, unsigned, tc.cert, f.key)
			v := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{tc.cert}})
			got, err := v.Verify(msg)
			if err != nil {
				t.Fatalf("%s refused: %v\n%s", tc.form, err, msg)
			}
			if !got.Certificate.Equal(tc.cert) || !got.Pinned {
				t.Fatalf("resolved to %v", got.Certificate.Subject)
			}
			if tc.form == wssec.KeyBinaryToken {
				return
			}
			// Only the registered certificates are candidates: pinning
			// another one (under the same CA, which is trusted) leaves none.
			_, err = f.verifier(t, wssec.Policy{Roots: f.ca.Pool(), Pinned: []*x509.Certificate{other}}).Verify(msg)
			if we, ok := err.(*wssec.Error); !ok || we.Code != wssec.CodeSecurityTokenUnavailable || !strings.Contains(we.Reason, "no registered certificate") {
				t.Fatalf("unregistered certificate: %v", err)
			}
		})
	}
	msg := wssectest.PySign(t, py, "keyname", unsigned, f.cert, f.key)
	_, err := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{f.cert}}).Verify(msg)
	if we, ok := err.(*wssec.Error); !ok || we.Code != wssec.CodeUnsupportedSecurityToken || !strings.Contains(we.Reason, "KeyName") {
		t.Fatalf("KeyName: %v", err)
	}
}

// TestKeyReference_X509IssuerSerial_Xmlsec1: a message signed by the
// xmlsec1 command line tool from a template whose KeyInfo holds an empty
// X509IssuerSerial (xmlsec1 fills it in) verifies against the pinned
// certificate, and so does one whose X509Data also carries the
// certificate; a carried certificate that is not the named one is refused.
func TestKeyReference_X509IssuerSerial_Xmlsec1(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	f := newFixture(t)
	for _, tc := range []struct {
		keyInfo string
		form    wssec.KeyForm
	}{
		{`<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>`, wssec.KeyIssuerSerial},
		// libxmlsec1 fills only the certificate of this template.
		{`<ds:X509Data><ds:X509IssuerSerial/><ds:X509Certificate/></ds:X509Data>`, wssec.KeyCertificate},
	} {
		msg := wssectest.XMLSec1Sign(t, bin, wssectest.Template(payload, tc.keyInfo, f.now, f.now.Add(wssec.DefaultTTL)), f.cert, f.key)
		if tc.form == wssec.KeyIssuerSerial && !bytes.Contains(msg, []byte(":X509SerialNumber>"+f.cert.SerialNumber.String()+"<")) {
			t.Fatalf("xmlsec1 wrote no serial number:\n%s", msg)
		}
		got, err := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{f.cert}}).Verify(msg)
		if err != nil || !got.Certificate.Equal(f.cert) {
			t.Fatalf("%s: %v\n%s", tc.keyInfo, err, msg)
		}
		// The same message, the certificate not registered (its CA is trusted).
		other, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", Slot: 7})
		_, err = f.verifier(t, wssec.Policy{Roots: f.ca.Pool(), Pinned: []*x509.Certificate{other}}).Verify(msg)
		if err == nil || !strings.Contains(err.Error(), "no registered certificate matches the "+tc.form.String()) {
			t.Fatalf("%s, unregistered: %v", tc.form, err)
		}
	}
	// Another pinned certificate's issuer and serial, with the partner's
	// certificate carried next to them: the two disagree.
	other, otherKey := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", Slot: 7})
	msg := wssectest.XMLSec1Sign(t, bin, wssectest.Template(payload, `<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>`, f.now, f.now.Add(wssec.DefaultTTL)), other, otherKey)
	msg = bytes.Replace(msg, []byte("</ds:X509IssuerSerial>"), []byte("</ds:X509IssuerSerial><ds:X509Certificate>"+base64.StdEncoding.EncodeToString(f.cert.Raw)+"</ds:X509Certificate>"), 1)
	_, err := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{f.cert, other}}).Verify(msg)
	if we, ok := err.(*wssec.Error); !ok || we.Code != wssec.CodeSecurityTokenUnavailable || !strings.Contains(we.Reason, "X509Certificate is not the certificate") {
		t.Fatalf("carried certificate disagreeing with the reference: %v", err)
	}
}

// resolverFunc adapts a function to wssec.CertificateResolver.
type resolverFunc func(context.Context, wssec.KeyReference) ([]*x509.Certificate, error)

func (f resolverFunc) ResolveCertificate(ctx context.Context, r wssec.KeyReference) ([]*x509.Certificate, error) {
	return f(ctx, r)
}

var _ wssec.CertificateResolver = resolverFunc(nil)

// TestKeyReference_ResolverCandidatesAreChecked: a resolver's candidates
// must match the reference and then pass the ordinary trust rules (here:
// chain to the roots); two in-date matches are ambiguous.
func TestKeyReference_ResolverCandidatesAreChecked(t *testing.T) {
	py := wssectest.RequireZeep(t)
	f := newFixture(t)
	msg := wssectest.PySign(t, py, "keyid-thumbprint", wssectest.Unsigned(payload, f.now, f.now.Add(wssec.DefaultTTL)), f.cert, f.key)
	other, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", Slot: 7})
	untrusted := wssectest.NewCA(t, "Untrusted", 5, f.now)
	for _, tc := range []struct {
		name   string
		roots  *wssectest.CA
		cands  []*x509.Certificate
		reason string
	}{
		{"the named certificate, chaining to the roots", f.ca, []*x509.Certificate{f.cert}, ""},
		{"a certificate that does not match the thumbprint", f.ca, []*x509.Certificate{other}, "no registered certificate"},
		{"the named certificate, not chaining to the roots", untrusted, []*x509.Certificate{f.cert}, "neither pinned nor issued by a trusted CA"},
	} {
		v := f.verifier(t, wssec.Policy{Roots: tc.roots.Pool(), Resolver: resolverFunc(func(_ context.Context, r wssec.KeyReference) ([]*x509.Certificate, error) {
			if r.Form != wssec.KeyThumbprintSHA1 {
				t.Errorf("form %v", r.Form)
			}
			return tc.cands, nil
		})})
		_, err := v.Verify(msg)
		if tc.reason == "" && err != nil || tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Ambiguous: two registered in-date certificates share a subject key identifier.
	ski := []byte("shared-key-identifier")
	a, key := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", SubjectKeyID: ski, Slot: 8})
	b, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", SubjectKeyID: ski, Slot: 8})
	msg = wssectest.PySign(t, py, "keyid-ski", wssectest.Unsigned(payload, f.now, f.now.Add(wssec.DefaultTTL)), a, key)
	_, err := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{a, b}}).Verify(msg)
	if err == nil || !strings.Contains(err.Error(), "more than one registered certificate") {
		t.Fatalf("ambiguous reference: %v", err)
	}
}

// TestKeyReference_X509IssuerNameSpellings: the issuer name of an
// X509IssuerSerial reference is matched as a distinguished name, in the
// spellings Java, .NET and OpenSSL use, and a right serial number under
// another issuer name resolves to nothing. KeyInfo is outside the
// signature, so the name is edited in xmlsec1's signed message.
func TestKeyReference_X509IssuerNameSpellings(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	f := newFixture(t)
	msg := wssectest.XMLSec1Sign(t, bin, wssectest.Template(payload, `<ds:X509Data><ds:X509IssuerSerial/></ds:X509Data>`, f.now, f.now.Add(wssec.DefaultTTL)), f.cert, f.key)
	const sent = "CN=Test M2M CA,O=authgate test"
	if !bytes.Contains(msg, []byte(">"+sent+"<")) {
		t.Fatalf("xmlsec1 wrote another issuer name:\n%s", msg)
	}
	v := f.verifier(t, wssec.Policy{Pinned: []*x509.Certificate{f.cert}})
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"CN=Test M2M CA, O=authgate test", true}, // .NET
		{"cn=test m2m ca,o=AUTHGATE  TEST", true}, // case and spaces
		{"O=authgate test,CN=Test M2M CA", true},  // certificate order
		{"2.5.4.3=Test M2M CA,OID.2.5.4.10=authgate test", true},
		{`CN=Test\20M2M CA,O=authgate test`, true}, // hex escape
		{"CN=Test M2M CA", false},
		{"CN=Other CA,O=authgate test", false},
		{"CN=Test M2M CA,O=authgate test,C=DE", false},
		{"CN=Test M2M CA,,O=authgate test", false},
		{"XX=Test M2M CA,O=authgate test", false},
	} {
		m := bytes.Replace(msg, []byte(">"+sent+"<"), []byte(">"+tc.name+"<"), 1)
		_, err := v.Verify(m)
		if tc.ok && err != nil || !tc.ok && err == nil {
			t.Errorf("%q: %v", tc.name, err)
		}
	}
}

// TestKeyReference_TokenBesideKeyIdentifier: a BinarySecurityToken in the
// header next to a key identifier must be the certificate the identifier
// names: a valid certificate of the trusted CA there is refused.
func TestKeyReference_TokenBesideKeyIdentifier(t *testing.T) {
	py := wssectest.RequireZeep(t)
	f := newFixture(t)
	other, _ := f.ca.Issue(t, wssectest.Leaf{Now: f.now, OU: "M2M_TA", Slot: 7})
	msg := wssectest.PySign(t, py, "keyid-thumbprint", wssectest.Unsigned(payload, f.now, f.now.Add(wssec.DefaultTTL)), f.cert, f.key)
	v := f.verifier(t, wssec.Policy{Roots: f.ca.Pool(), Pinned: []*x509.Certificate{f.cert}})
	for _, tc := range []struct {
		cert *x509.Certificate
		ok   bool
	}{{f.cert, true}, {other, false}} {
		bst := `<wsse:BinarySecurityToken EncodingType="` + wssec.EncBase64 + `" ValueType="` + wssec.ValueX509v3 + `">` + base64.StdEncoding.EncodeToString(tc.cert.Raw) + `</wsse:BinarySecurityToken>`
		i := bytes.Index(msg, []byte("<wsu:Timestamp"))
		m := append(append(append([]byte{}, msg[:i]...), bst...), msg[i:]...)
		_, err := v.Verify(m)
		if tc.ok && err != nil || !tc.ok && (err == nil || !strings.Contains(err.Error(), "BinarySecurityToken is not the certificate")) {
			t.Errorf("token %s: %v", tc.cert.Subject, err)
		}
	}
}
