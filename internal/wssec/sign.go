package wssec

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/authgate/authgate/internal/core"
)

// DefaultTTL is the Timestamp lifetime the M2M API prescribes (5 minutes).
const DefaultTTL = 300 * time.Second

// SignerOptions tune a Signer; zero values give the M2M API's settings.
type SignerOptions struct {
	// TTL is Expires minus Created (default DefaultTTL).
	TTL time.Duration
	// Algorithm is AlgRSASHA256 (default) or AlgRSASHA1 (only for testing
	// peers that still require it; authgate's verifier refuses it unless
	// configured).
	Algorithm string
	// InclusivePrefixes, when set, are sent as the InclusiveNamespaces
	// PrefixList of every exclusive c14n transform and of SignedInfo.
	InclusivePrefixes []string
	// Clock supplies Created (default the system clock).
	Clock core.Clock
}

// Signer signs SOAP 1.1 envelopes with one RSA key and its certificate.
// It is safe for concurrent use.
type Signer struct {
	key        *rsa.PrivateKey
	cert       *x509.Certificate
	certB64    string
	ttl        time.Duration
	sigAlg     string
	digestAlg  string
	hash       crypto.Hash
	prefixList string
	clock      core.Clock
}

// NewSigner builds a signer. The certificate must hold key's public key.
func NewSigner(key *rsa.PrivateKey, cert *x509.Certificate, opt SignerOptions) (*Signer, error) {
	if key == nil || cert == nil {
		return nil, errors.New("wssec: signer needs a key and a certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("wssec: certificate does not match the signing key")
	}
	s := &Signer{key: key, cert: cert, certB64: base64.StdEncoding.EncodeToString(cert.Raw),
		ttl: opt.TTL, clock: opt.Clock, prefixList: strings.Join(opt.InclusivePrefixes, " ")}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.clock == nil {
		s.clock = core.SystemClock{}
	}
	switch opt.Algorithm {
	case "", AlgRSASHA256:
		s.sigAlg, s.digestAlg, s.hash = AlgRSASHA256, AlgDigestSHA256, crypto.SHA256
	case AlgRSASHA1:
		s.sigAlg, s.digestAlg, s.hash = AlgRSASHA1, AlgDigestSHA1, crypto.SHA1
	default:
		return nil, fmt.Errorf("wssec: unsupported signature algorithm %q", opt.Algorithm)
	}
	if !validPrefixList(s.prefixList) {
		return nil, errors.New("wssec: invalid inclusive namespace prefix")
	}
	key.Precompute()
	return s, nil
}

// Certificate returns the signer's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// timeFormat is xsd:dateTime in UTC with milliseconds, as WSS4J writes it.
const timeFormat = "2006-01-02T15:04:05.000Z"

// Sign wraps payload (zero or more well-formed XML elements, the content of
// soap:Body) in a signed SOAP 1.1 envelope. The Body, the Timestamp and
// SignedInfo appear in the output as exactly the canonical bytes that were
// digested and signed.
func (s *Signer) Sign(payload []byte) ([]byte, error) {
	ids := newIDs()
	// The elements are built in the skeleton of the envelope that will be
	// written, so each is canonicalized with the namespaces in scope that
	// a verifier will see (this matters for InclusiveNamespaces).
	env := etree.NewElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP11)
	sec := env.CreateElement("soap:Header").CreateElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	sec.CreateAttr("xmlns:wsu", NSWSU)
	body := env.CreateElement("soap:Body")
	body.CreateAttr("xmlns:wsu", NSWSU)
	body.CreateAttr("wsu:Id", ids.body)
	if len(bytes.TrimSpace(payload)) > 0 {
		// The payload is parsed inside a wrapper so several top-level elements are allowed.
		doc := etree.NewDocument()
		// Literal whitespace in attribute values means a space (XML 1.0
		// 3.3.3), as it will to the peer: normalised before parsing.
		if err := doc.ReadFromBytes(normalizeAttrWhitespace(append(append([]byte("<w>"), payload...), "</w>"...))); err != nil {
			return nil, fmt.Errorf("wssec: payload is not well-formed XML: %w", err)
		}
		for _, c := range doc.Root().Child {
			body.AddChild(c)
		}
	}
	now := s.clock.Now().UTC()
	ts := sec.CreateElement("wsu:Timestamp")
	ts.CreateAttr("wsu:Id", ids.ts)
	ts.CreateElement("wsu:Created").SetText(now.Format(timeFormat))
	ts.CreateElement("wsu:Expires").SetText(now.Add(s.ttl).Format(timeFormat))

	bodyC14N, err := canonicalize(body, s.prefixList)
	if err != nil {
		return nil, err
	}
	tsC14N, err := canonicalize(ts, s.prefixList)
	if err != nil {
		return nil, err
	}
	sigEl := sec.CreateElement("ds:Signature")
	sigEl.CreateAttr("xmlns:ds", NSDSig)
	si := sigEl.CreateElement("ds:SignedInfo")
	cm := si.CreateElement("ds:CanonicalizationMethod")
	cm.CreateAttr("Algorithm", AlgExcC14N)
	s.addPrefixList(cm)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", s.sigAlg)
	for _, r := range []struct {
		id  string
		c14 []byte
	}{{ids.ts, tsC14N}, {ids.body, bodyC14N}} {
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", "#"+r.id)
		tr := ref.CreateElement("ds:Transforms").CreateElement("ds:Transform")
		tr.CreateAttr("Algorithm", AlgExcC14N)
		s.addPrefixList(tr)
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", s.digestAlg)
		h := s.hash.New()
		h.Write(r.c14)
		ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	siC14N, err := canonicalize(si, s.prefixList)
	if err != nil {
		return nil, err
	}
	h := s.hash.New()
	h.Write(siC14N)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, s.hash, h.Sum(nil))
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	b.Grow(len(bodyC14N) + len(s.certB64) + 2048)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSSOAP11 + `"><soap:Header>`)
	b.WriteString(`<wsse:Security xmlns:wsse="` + NSWSSE + `" xmlns:wsu="` + NSWSU + `" soap:mustUnderstand="1">`)
	b.Write(tsC14N)
	b.WriteString(`<wsse:BinarySecurityToken EncodingType="` + EncBase64 + `" ValueType="` + ValueX509v3 + `" wsu:Id="` + ids.bst + `">`)
	b.WriteString(s.certB64)
	b.WriteString(`</wsse:BinarySecurityToken>`)
	b.WriteString(`<ds:Signature xmlns:ds="` + NSDSig + `" Id="` + ids.sig + `">`)
	b.Write(siC14N)
	b.WriteString(`<ds:SignatureValue>` + base64.StdEncoding.EncodeToString(sig) + `</ds:SignatureValue>`)
	b.WriteString(`<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#` + ids.bst + `" ValueType="` + ValueX509v3 + `"/></wsse:SecurityTokenReference></ds:KeyInfo>`)
	b.WriteString(`</ds:Signature></wsse:Security></soap:Header>`)
	b.Write(bodyC14N)
	b.WriteString(`</soap:Envelope>`)
	return b.Bytes(), nil
}

func (s *Signer) addPrefixList(parent *etree.Element) {
	if s.prefixList == "" {
		return
	}
	in := parent.CreateElement("ec:InclusiveNamespaces")
	in.CreateAttr("xmlns:ec", NSExcC14N)
	in.CreateAttr("PrefixList", s.prefixList)
}

// ids are the wsu:Id values of one message: random, so a captured Body
// cannot be matched to a reference of another message by its Id.
type ids struct{ body, ts, bst, sig string }

func newIDs() ids {
	var r [8]byte
	_, _ = rand.Read(r[:])
	x := hex.EncodeToString(r[:])
	return ids{body: "Body-" + x, ts: "TS-" + x, bst: "X509-" + x, sig: "SIG-" + x}
}
