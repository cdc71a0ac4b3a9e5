package wssec_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		opt  wssec.SignerOptions
		pol  wssec.Policy
	}{
		{"defaults", wssec.SignerOptions{}, wssec.Policy{}},
		{"inclusive prefixes", wssec.SignerOptions{InclusivePrefixes: []string{"soap", "m"}}, wssec.Policy{}},
		{"rsa-sha1 when allowed", wssec.SignerOptions{Algorithm: wssec.AlgRSASHA1}, wssec.Policy{AllowSHA1: true}},
		{"pinned certificate", wssec.SignerOptions{}, wssec.Policy{Pinned: []*x509.Certificate{f.cert}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := f.signer(t, tc.opt).Sign([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.verifier(t, tc.pol).Verify(msg)
			if err != nil {
				t.Fatalf("verify: %v\n%s", err, msg)
			}
			p := got.Payload()
			if p == nil || p.Tag != "SIMUsageGet" || p.FindElement("ICCID").Text() != "8949020000000000001" {
				t.Fatalf("payload not handed over: %s", got.BodyC14N)
			}
			if !got.Created.Equal(f.now) || got.Expires.Sub(got.Created) != wssec.DefaultTTL {
				t.Fatalf("timestamp %v..%v", got.Created, got.Expires)
			}
			if got.Certificate.SerialNumber.Cmp(f.cert.SerialNumber) != 0 || got.Pinned != (tc.pol.Pinned != nil) {
				t.Fatal("wrong certificate reported")
			}
			// The signer wrote exactly what it canonicalized.
			if !bytes.Contains(msg, got.BodyC14N) {
				t.Fatal("serialized Body differs from its canonical form")
			}
		})
	}
}

func TestSignerRejectsMismatchedKey(t *testing.T) {
	f := newFixture(t)
	other := wssectest.Key(t, 2048, 7)
	if _, err := wssec.NewSigner(other, f.cert, wssec.SignerOptions{}); err == nil {
		t.Fatal("signer accepted a certificate of another key")
	}
	if _, err := wssec.NewVerifier(wssec.Policy{}); err == nil {
		t.Fatal("verifier without trust anchors was built")
	}
}

// TestAttacks is the verifier checklist as attacks: each message is refused
// with the expected WS-Security fault code.
func TestAttacks(t *testing.T) {
	f := newFixture(t)
	otherCA := wssectest.NewCA(t, "Other CA", 1, f.now)
	leaf := func(l wssectest.Leaf, ca *wssectest.CA) *wssec.Signer {
		l.Now = f.now
		c, k := ca.Issue(t, l)
		s, err := wssec.NewSigner(k, c, wssec.SignerOptions{Clock: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signWith := func(s *wssec.Signer) []byte {
		b, err := s.Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	edit := func(fn func(doc *etree.Document)) []byte {
		doc := parse(t, f.sign(t))
		fn(doc)
		return write(t, doc)
	}
	bodyOf := func(doc *etree.Document) *etree.Element { return doc.FindElement("/Envelope/Body") }

	cases := []struct {
		name string
		msg  []byte
		pol  wssec.Policy
		code wssec.Code
	}{
		{"signature wrapping: signed Body moved into a header wrapper", edit(func(doc *etree.Document) {
			body := bodyOf(doc)
			env := doc.Root()
			env.RemoveChild(body)
			wrapper := doc.FindElement("/Envelope/Header").CreateElement("Wrapper")
			wrapper.AddChild(body)
			evil := env.CreateElement("soap:Body")
			evil.CreateElement("m:SIMActivation").CreateAttr("xmlns:m", "urn:authgate:m2m:v30")
		}), wssec.Policy{}, wssec.CodeFailedCheck},
		{"signature wrapping: evil Body reuses the signed Id", edit(func(doc *etree.Document) {
			body := bodyOf(doc)
			env := doc.Root()
			env.RemoveChild(body)
			doc.FindElement("/Envelope/Header").CreateElement("Wrapper").AddChild(body)
			evil := env.CreateElement("soap:Body")
			evil.CreateAttr("wsu:Id", body.SelectAttrValue("wsu:Id", ""))
			evil.CreateAttr("xmlns:wsu", wssec.NSWSU)
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"signature wrapping: second Body", edit(func(doc *etree.Document) {
			doc.Root().CreateElement("soap:Body")
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"duplicate Ids", edit(func(doc *etree.Document) {
			id := bodyOf(doc).SelectAttrValue("wsu:Id", "")
			doc.FindElement("/Envelope/Header").CreateElement("Other").CreateAttr("Id", id)
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"duplicate Id attribute on one element", []byte(strings.Replace(string(f.sign(t)), `<soap:Body `, `<soap:Body wsu:Id="dup" `, 1)), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"expired timestamp", signWith(f.signerAt(t, f.now.Add(-10*time.Minute))), wssec.Policy{}, wssec.CodeMessageExpired},
		{"timestamp from the future", signWith(f.signerAt(t, f.now.Add(10*time.Minute))), wssec.Policy{}, wssec.CodeMessageExpired},
		{"TTL over the limit", signWith(f.signer(t, wssec.SignerOptions{TTL: 301 * time.Second})), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"certificate from another CA", signWith(leaf(wssectest.Leaf{}, otherCA)), wssec.Policy{}, wssec.CodeFailedAuthentication},
		{"self-signed certificate", signWith(leaf(wssectest.Leaf{SelfSigned: true, Slot: 3}, f.ca)), wssec.Policy{}, wssec.CodeFailedAuthentication},
		{"certificate without clientAuth", signWith(leaf(wssectest.Leaf{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, f.ca)), wssec.Policy{}, wssec.CodeInvalidSecurityToken},
		{"certificate without digitalSignature", signWith(leaf(wssectest.Leaf{KeyUsage: x509.KeyUsageKeyEncipherment}, f.ca)), wssec.Policy{}, wssec.CodeInvalidSecurityToken},
		{"RSA 1024", signWith(leaf(wssectest.Leaf{Bits: 1024}, f.ca)), wssec.Policy{}, wssec.CodeInvalidSecurityToken},
		{"expired certificate", signWith(leaf(wssectest.Leaf{NotBefore: f.now.Add(-48 * time.Hour), NotAfter: f.now.Add(-time.Hour)}, f.ca)), wssec.Policy{}, wssec.CodeInvalidSecurityToken},
		{"pinned but without clientAuth", signWith(leaf(wssectest.Leaf{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Slot: 4}, f.ca)), wssec.Policy{Pinned: []*x509.Certificate{f.cert}}, wssec.CodeInvalidSecurityToken},
		{"DOCTYPE", append([]byte(`<?xml version="1.0"?><!DOCTYPE Envelope [<!ENTITY x "y">]>`), f.sign(t)[len(`<?xml version="1.0" encoding="UTF-8"?>`):]...), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"billion laughs", []byte(`<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&b;</soap:Body></soap:Envelope>`), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"external entity", []byte(`<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>`), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"undeclared entity", bytes.Replace(f.sign(t), []byte("8949020000000000001"), []byte("&x;"), 1), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"comment injection in a signed value", bytes.Replace(f.sign(t), []byte("8949020000000000001"), []byte("894902<!---->0000000000001"), 1), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"processing instruction", bytes.Replace(f.sign(t), []byte("</soap:Envelope>"), []byte("<?evil x?></soap:Envelope>"), 1), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"unsigned Timestamp", edit(func(doc *etree.Document) {
			for _, r := range doc.FindElements("//SignedInfo/Reference") {
				if strings.HasPrefix(r.SelectAttrValue("URI", ""), "#TS-") {
					r.Parent().RemoveChild(r)
				}
			}
			resign(t, doc, f.key)
		}), wssec.Policy{}, wssec.CodeFailedCheck},
		{"unsigned Body", edit(func(doc *etree.Document) {
			for _, r := range doc.FindElements("//SignedInfo/Reference") {
				if strings.HasPrefix(r.SelectAttrValue("URI", ""), "#Body-") {
					r.Parent().RemoveChild(r)
				}
			}
			resign(t, doc, f.key)
		}), wssec.Policy{}, wssec.CodeFailedCheck},
		{"rsa-sha1 not allowed", signWith(f.signer(t, wssec.SignerOptions{Algorithm: wssec.AlgRSASHA1})), wssec.Policy{}, wssec.CodeUnsupportedAlgorithm},
		{"hmac signature method", edit(func(doc *etree.Document) {
			doc.FindElement("//SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
		}), wssec.Policy{}, wssec.CodeUnsupportedAlgorithm},
		{"inclusive c14n", edit(func(doc *etree.Document) {
			doc.FindElement("//CanonicalizationMethod").CreateAttr("Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
		}), wssec.Policy{}, wssec.CodeUnsupportedAlgorithm},
		{"xpath transform", edit(func(doc *etree.Document) {
			doc.FindElement("//Reference/Transforms/Transform").CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
		}), wssec.Policy{}, wssec.CodeUnsupportedAlgorithm},
		{"reference that is not #id", edit(func(doc *etree.Document) {
			doc.FindElement("//SignedInfo/Reference").CreateAttr("URI", "#xpointer(/)")
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"tampered Body", bytes.Replace(f.sign(t), []byte("8949020000000000001"), []byte("8949020000000000002"), 1), wssec.Policy{}, wssec.CodeFailedCheck},
		{"tampered SignatureValue", edit(func(doc *etree.Document) {
			sv := doc.FindElement("//SignatureValue")
			// Swap one character for another base64 character, so the value
			// still decodes and only the signature check can catch it.
			b := []byte(sv.Text())
			if b[10] == 'A' {
				b[10] = 'B'
			} else {
				b[10] = 'A'
			}
			sv.SetText(string(b))
		}), wssec.Policy{}, wssec.CodeFailedCheck},
		{"two Security headers", edit(func(doc *etree.Document) {
			h := doc.FindElement("/Envelope/Header")
			h.AddChild(h.SelectElement("Security").Copy())
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"missing Timestamp", edit(func(doc *etree.Document) {
			s := doc.FindElement("//Security")
			s.RemoveChild(s.SelectElement("Timestamp"))
		}), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"key reference to a token elsewhere", edit(func(doc *etree.Document) {
			bst := doc.FindElement("//BinarySecurityToken")
			cp := bst.Copy()
			cp.CreateAttr("wsu:Id", "X509-other")
			cp.CreateAttr("xmlns:wsu", wssec.NSWSU)
			doc.FindElement("/Envelope/Header").CreateElement("Wrapper").AddChild(cp)
			doc.FindElement("//KeyInfo/SecurityTokenReference/Reference").CreateAttr("URI", "#X509-other")
		}), wssec.Policy{}, wssec.CodeSecurityTokenUnavailable},
		{"not UTF-8", bytes.Replace(f.sign(t), []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"too deep", []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</soap:Envelope>`), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"too large", bytes.Repeat([]byte(" "), 300<<10), wssec.Policy{}, wssec.CodeInvalidSecurity},
		{"SOAP 1.2 envelope", bytes.ReplaceAll(f.sign(t), []byte(wssec.NSSOAP11), []byte("http://www.w3.org/2003/05/soap-envelope")), wssec.Policy{}, wssec.CodeInvalidSecurity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.verifier(t, tc.pol).Verify(tc.msg)
			if err == nil {
				t.Fatalf("accepted:\n%s\nbody: %s", tc.msg, got.BodyC14N)
			}
			var we *wssec.Error
			if !errors.As(err, &we) {
				t.Fatalf("untyped error %v", err)
			}
			if we.Code != tc.code {
				t.Fatalf("code %s (%s), want %s", we.Code, we.Reason, tc.code)
			}
			if k := core.KindOf(err); k != core.KindUnauthenticated && k != core.KindExpired {
				t.Fatalf("core kind %v", k)
			}
		})
	}
}

func (f *fixture) signerAt(t testing.TB, at time.Time) *wssec.Signer {
	return f.signer(t, wssec.SignerOptions{Clock: core.NewManualClock(at)})
}

// TestSkew: a timestamp a little ahead or just expired passes within the skew.
func TestSkew(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, wssec.Policy{Skew: 30 * time.Second})
	for _, d := range []time.Duration{20 * time.Second, -wssec.DefaultTTL - 20*time.Second} {
		msg, _ := f.signerAt(t, f.now.Add(d)).Sign([]byte(payload))
		if _, err := v.Verify(msg); err != nil {
			t.Errorf("offset %v: %v", d, err)
		}
	}
	for _, d := range []time.Duration{40 * time.Second, -wssec.DefaultTTL - 40*time.Second} {
		msg, _ := f.signerAt(t, f.now.Add(d)).Sign([]byte(payload))
		if _, err := v.Verify(msg); err == nil {
			t.Errorf("offset %v accepted", d)
		}
	}
}

// TestCertificateCacheKeepsTimeRules: a certificate accepted once is
// remembered, but the time rules still apply on every message: the leaf
// expiring, or a CA of its chain expiring before it, refuses the next one.
func TestCertificateCacheKeepsTimeRules(t *testing.T) {
	f := newFixture(t)
	caEnd := f.ca.Cert.NotAfter
	longLeaf, longKey := f.ca.Issue(t, wssectest.Leaf{Now: f.now, Slot: 3, NotAfter: caEnd.Add(365 * 24 * time.Hour)})
	shortLeaf, shortKey := f.ca.Issue(t, wssectest.Leaf{Now: f.now, Slot: 4, NotAfter: f.now.Add(time.Hour)})
	v := f.verifier(t, wssec.Policy{})
	verifyAt := func(cert *x509.Certificate, key *rsa.PrivateKey, at time.Time) error {
		s, err := wssec.NewSigner(key, cert, wssec.SignerOptions{Clock: core.NewManualClock(at)})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := s.Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at)
		_, err = v.Verify(msg)
		return err
	}
	steps := []struct {
		name string
		cert *x509.Certificate
		key  *rsa.PrivateKey
		at   time.Time
		ok   bool
	}{
		{"short leaf, first use", shortLeaf, shortKey, f.now, true},
		{"short leaf, cached", shortLeaf, shortKey, f.now.Add(time.Minute), true},
		{"short leaf expired", shortLeaf, shortKey, f.now.Add(2 * time.Hour), false},
		{"long leaf, first use", longLeaf, longKey, f.now, true},
		{"long leaf, cached, CA still valid", longLeaf, longKey, caEnd.Add(-time.Hour), true},
		{"long leaf in date but its CA expired", longLeaf, longKey, caEnd.Add(time.Hour), false},
	}
	for _, s := range steps {
		if err := verifyAt(s.cert, s.key, s.at); (err == nil) != s.ok {
			t.Errorf("%s: err %v, want ok=%v", s.name, err, s.ok)
		}
	}
}
