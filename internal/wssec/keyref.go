package wssec

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // SHA-1 is what ThumbprintSHA1 and RFC 5280's key identifier are defined with: names, not signatures
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/authgate/authgate/internal/core"
)

// The key identifier value types of the X.509 token profile and of SOAP
// Message Security 1.1.
const (
	ValueX509SKI        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	ValueThumbprintSHA1 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
)

// KeyForm is how a message names the certificate of its signing key.
type KeyForm int

// The accepted forms. Only KeyBinaryToken takes the certificate from the
// message; the others name a certificate the verifier must already know.
const (
	// KeyBinaryToken: wsse:SecurityTokenReference/wsse:Reference URI="#id"
	// to the header's X509v3 BinarySecurityToken.
	KeyBinaryToken KeyForm = iota
	// KeyIssuerSerial: ds:X509Data/ds:X509IssuerSerial, directly in
	// ds:KeyInfo or inside a SecurityTokenReference.
	KeyIssuerSerial
	// KeySubjectKeyIdentifier: wsse:KeyIdentifier of ValueType
	// X509SubjectKeyIdentifier, or ds:X509Data/ds:X509SKI.
	KeySubjectKeyIdentifier
	// KeyThumbprintSHA1: wsse:KeyIdentifier of ValueType ThumbprintSHA1,
	// the SHA-1 of the DER certificate.
	KeyThumbprintSHA1
	// KeyCertificate: an X509Data whose X509Certificate is the only usable
	// name (zeep's Signature leaves its X509IssuerSerial empty). The
	// certificate is not taken from the message: it names the registered
	// certificate that is byte for byte equal to it.
	KeyCertificate
)

func (f KeyForm) String() string {
	switch f {
	case KeyBinaryToken:
		return "BinarySecurityToken reference"
	case KeyIssuerSerial:
		return "X509IssuerSerial"
	case KeySubjectKeyIdentifier:
		return "X509SubjectKeyIdentifier"
	case KeyThumbprintSHA1:
		return "ThumbprintSHA1"
	case KeyCertificate:
		return "X509Certificate"
	}
	return "unknown key reference"
}

// KeyReference names a signing certificate the message does not carry.
type KeyReference struct {
	Form KeyForm
	// Issuer is X509IssuerName as sent (an RFC 4514 distinguished name)
	// and Serial X509SerialNumber, for KeyIssuerSerial.
	Issuer string
	Serial *big.Int
	// Value is the subject key identifier, the SHA-1 thumbprint or, for
	// KeyCertificate, the DER certificate.
	Value []byte
}

// Matches reports whether cert is the certificate r names. The verifier
// applies it to every candidate, whoever supplied it.
func (r KeyReference) Matches(cert *x509.Certificate) bool {
	switch r.Form {
	case KeyIssuerSerial:
		return r.Serial != nil && cert.SerialNumber != nil && cert.SerialNumber.Cmp(r.Serial) == 0 && issuerMatches(r.Issuer, cert.RawIssuer)
	case KeySubjectKeyIdentifier:
		return len(r.Value) > 0 && bytes.Equal(subjectKeyID(cert), r.Value)
	case KeyThumbprintSHA1:
		sum := sha1.Sum(cert.Raw) //nolint:gosec // see the import
		return bytes.Equal(sum[:], r.Value)
	case KeyCertificate:
		return len(r.Value) > 0 && bytes.Equal(cert.Raw, r.Value)
	}
	return false
}

// CertificateResolver finds registered certificates a key reference may
// name, beyond Policy.Pinned (which the verifier searches itself): in
// authgate, the signing certificates its own CA issued for the
// environment. Whatever it returns is only a candidate: the verifier keeps
// what Matches the reference and then applies every rule a carried
// certificate meets (pinned or chaining to Policy.Roots, key, usages,
// dates, Checkers). nil, nil means none is known. A core error of kind
// Unavailable or Internal refuses the message as a server fault; any
// other error refuses it with its reason.
type CertificateResolver interface {
	ResolveCertificate(ctx context.Context, ref KeyReference) ([]*x509.Certificate, error)
}

// subjectKeyID is the certificate's subject key identifier extension or,
// when it has none, RFC 5280 4.2.1.2 method (1) (SHA-1 of the public key
// bits), which is what WSS4J and .NET compute for such certificates.
func subjectKeyID(cert *x509.Certificate) []byte {
	if len(cert.SubjectKeyId) > 0 {
		return cert.SubjectKeyId
	}
	var spki struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	sum := sha1.Sum(spki.Key.Bytes) //nolint:gosec // see the import
	return sum[:]
}

// keyInfo is the checked content of ds:KeyInfo: the token it references,
// or the reference to a registered certificate, and any certificate the
// X509Data carried next to it (which must then be that certificate).
type keyInfo struct {
	token   *etree.Element
	ref     *KeyReference
	carried []byte
}

const (
	maxIssuerName = 1024
	maxKeyIDBytes = 64
)

// parseKeyInfo reads the one child of ds:KeyInfo. Accepted:
// SecurityTokenReference holding a Reference to the BinarySecurityToken, a
// KeyIdentifier (SKI or ThumbprintSHA1) or an X509Data; or an X509Data
// directly. Anything else is refused by name.
func parseKeyInfo(e *envelope, ki *etree.Element) (*keyInfo, error) {
	kids := ki.ChildElements()
	if len(kids) != 1 {
		return nil, fail(CodeSecurityTokenUnavailable, "KeyInfo must hold one key reference")
	}
	k := kids[0]
	switch {
	case is(k, NSDSig, "X509Data"):
		return parseX509Data(k)
	case !is(k, NSWSSE, "SecurityTokenReference"):
		return nil, fail(CodeUnsupportedSecurityToken, "unsupported key reference "+k.Tag+acceptedForms)
	}
	str := k.ChildElements()
	if len(str) != 1 {
		return nil, fail(CodeSecurityTokenUnavailable, "SecurityTokenReference must hold one reference")
	}
	r := str[0]
	switch {
	case is(r, NSWSSE, "Reference"):
		if vt := r.SelectAttrValue("ValueType", ValueX509v3); vt != ValueX509v3 {
			return nil, fail(CodeUnsupportedSecurityToken, "token reference is not X509v3")
		}
		if e.bst == nil {
			return nil, fail(CodeSecurityTokenUnavailable, "token reference without a BinarySecurityToken in the header")
		}
		tok, err := resolve(e, r.SelectAttrValue("URI", ""))
		if err != nil {
			return nil, err
		}
		if tok != e.bst {
			return nil, fail(CodeSecurityTokenUnavailable, "token reference does not point at the BinarySecurityToken")
		}
		return &keyInfo{token: tok}, nil
	case is(r, NSWSSE, "KeyIdentifier"):
		return parseKeyIdentifier(r)
	case is(r, NSDSig, "X509Data"):
		return parseX509Data(r)
	}
	return nil, fail(CodeUnsupportedSecurityToken, "unsupported key reference "+r.Tag+acceptedForms)
}

const acceptedForms = " (accepted: wsse:Reference to the BinarySecurityToken, X509IssuerSerial, X509SubjectKeyIdentifier, ThumbprintSHA1)"

func parseKeyIdentifier(r *etree.Element) (*keyInfo, error) {
	if enc := r.SelectAttrValue("EncodingType", EncBase64); enc != EncBase64 {
		return nil, fail(CodeUnsupportedSecurityToken, "KeyIdentifier is not Base64Binary")
	}
	ref := &KeyReference{}
	switch r.SelectAttrValue("ValueType", "") {
	case ValueX509SKI:
		ref.Form = KeySubjectKeyIdentifier
	case ValueThumbprintSHA1:
		ref.Form = KeyThumbprintSHA1
	default:
		// Includes the X509v3 KeyIdentifier, which carries the certificate itself.
		return nil, fail(CodeUnsupportedSecurityToken, "unsupported KeyIdentifier ValueType"+acceptedForms)
	}
	v, err := base64Content(r)
	if err != nil || len(v) == 0 || len(v) > maxKeyIDBytes || (ref.Form == KeyThumbprintSHA1 && len(v) != sha1.Size) {
		return nil, fail(CodeInvalidSecurityToken, "KeyIdentifier is not a base64 "+ref.Form.String())
	}
	ref.Value = v
	return &keyInfo{ref: ref}, nil
}

// parseX509Data takes one X509IssuerSerial or X509SKI, and at most one
// X509Certificate, which must turn out to be the certificate named; or an
// X509Certificate alone (with an empty X509IssuerSerial, as zeep sends
// it), which names the registered certificate equal to it.
func parseX509Data(x *etree.Element) (*keyInfo, error) {
	ki := &keyInfo{}
	for _, c := range x.ChildElements() {
		switch {
		case is(c, NSDSig, "X509IssuerSerial") && len(c.ChildElements()) == 0 && strings.TrimSpace(c.Text()) == "":
			// zeep's template that libxmlsec1 left unfilled; names nothing.
		case is(c, NSDSig, "X509IssuerSerial"), is(c, NSDSig, "X509SKI"):
			if ki.ref != nil {
				return nil, fail(CodeSecurityTokenUnavailable, "X509Data names more than one certificate")
			}
			ref, err := x509DataRef(c)
			if err != nil {
				return nil, err
			}
			ki.ref = ref
		case is(c, NSDSig, "X509Certificate"):
			if ki.carried != nil {
				return nil, fail(CodeSecurityTokenUnavailable, "X509Data carries more than one certificate")
			}
			der, err := base64Content(c)
			if err != nil || len(der) == 0 {
				return nil, fail(CodeInvalidSecurityToken, "X509Certificate is not base64")
			}
			ki.carried = der
		default:
			return nil, fail(CodeUnsupportedSecurityToken, "unsupported X509Data content "+c.Tag+acceptedForms)
		}
	}
	if ki.ref == nil {
		if ki.carried == nil {
			return nil, fail(CodeSecurityTokenUnavailable, "X509Data names no certificate")
		}
		ki.ref = &KeyReference{Form: KeyCertificate, Value: ki.carried}
	}
	return ki, nil
}

func x509DataRef(c *etree.Element) (*KeyReference, error) {
	if c.Tag == "X509SKI" {
		v, err := base64Content(c)
		if err != nil || len(v) == 0 || len(v) > maxKeyIDBytes {
			return nil, fail(CodeInvalidSecurityToken, "X509SKI is not a base64 key identifier")
		}
		return &KeyReference{Form: KeySubjectKeyIdentifier, Value: v}, nil
	}
	kids := c.ChildElements()
	if len(kids) != 2 || !is(kids[0], NSDSig, "X509IssuerName") || !is(kids[1], NSDSig, "X509SerialNumber") ||
		len(kids[0].ChildElements()) > 0 || len(kids[1].ChildElements()) > 0 {
		return nil, fail(CodeInvalidSecurityToken, "X509IssuerSerial must hold X509IssuerName and X509SerialNumber")
	}
	name := strings.TrimSpace(kids[0].Text())
	serial, ok := new(big.Int).SetString(strings.TrimSpace(kids[1].Text()), 10)
	if name == "" || len(name) > maxIssuerName || !ok || serial.Sign() <= 0 || serial.BitLen() > 160 {
		return nil, fail(CodeInvalidSecurityToken, "X509IssuerSerial is not an issuer name and a decimal serial number")
	}
	if _, err := parseRFC4514(name); err != nil {
		return nil, fail(CodeInvalidSecurityToken, "X509IssuerName is not a distinguished name")
	}
	return &KeyReference{Form: KeyIssuerSerial, Issuer: name, Serial: serial}, nil
}

// resolveReference finds the one registered certificate ref names: the
// pinned certificates and what the policy's resolver offers, kept only
// if they match. Several in-date matches are ambiguous and refused.
func (v *Verifier) resolveReference(ctx context.Context, ref *KeyReference, now time.Time) (*x509.Certificate, error) {
	var found []*x509.Certificate
	seen := map[[sha256.Size]byte]bool{}
	add := func(c *x509.Certificate) {
		fp := sha256.Sum256(c.Raw)
		if !seen[fp] && ref.Matches(c) {
			seen[fp] = true
			found = append(found, c)
		}
	}
	for _, c := range v.p.Pinned {
		add(c)
	}
	if v.p.Resolver != nil {
		cands, err := v.p.Resolver.ResolveCertificate(ctx, *ref)
		if err != nil {
			if k := core.KindOf(err); k == core.KindUnavailable || k == core.KindInternal {
				return nil, err
			}
			return nil, fail(CodeSecurityTokenUnavailable, core.ReasonOf(err))
		}
		for i, c := range cands {
			if i >= maxCandidates {
				break
			}
			add(c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fail(CodeSecurityTokenUnavailable, "no registered certificate matches the "+ref.Form.String()+" key reference")
	case 1:
		return found[0], nil
	}
	// During a rollover with one key the old and the new certificate
	// share a key identifier: the one in date is meant.
	var current []*x509.Certificate
	for _, c := range found {
		if !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
			current = append(current, c)
		}
	}
	if len(current) == 1 {
		return current[0], nil
	}
	return nil, fail(CodeSecurityTokenUnavailable, "the "+ref.Form.String()+" key reference matches more than one registered certificate")
}

// maxCandidates bounds what a resolver may hand the verifier per message.
const maxCandidates = 16
