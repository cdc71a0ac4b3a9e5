package wssec

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/authgate/authgate/internal/core"
)

// Policy is what a Verifier accepts. Zero values take the defaults noted.
type Policy struct {
	// MaxBytes bounds the whole message (default 256 KiB).
	MaxBytes int
	// MaxDepth bounds element nesting (default 32).
	MaxDepth int
	// MaxElements bounds the number of elements (default 4096).
	MaxElements int
	// MaxTTL bounds Expires minus Created (default DefaultTTL, 300 s).
	MaxTTL time.Duration
	// Skew is the clock difference tolerated on Created and Expires (default 60 s).
	Skew time.Duration
	// AllowSHA1 accepts rsa-sha1 signatures and sha1 digests as well.
	AllowSHA1 bool
	// Roots are the CAs a signing certificate may chain to; Intermediates
	// helps building the chain.
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	// Pinned certificates are accepted without a chain (still subject to
	// the key, usage and validity checks).
	Pinned []*x509.Certificate
	// MinRSABits is the smallest accepted modulus (default and floor 2048).
	MinRSABits int
	// Resolver finds registered certificates named by a key reference
	// (X509IssuerSerial, subject key identifier, thumbprint) besides the
	// Pinned ones; nil: Pinned only. A message that names its certificate
	// instead of carrying it is never checked against a certificate it
	// carries.
	Resolver CertificateResolver
	// Checkers are asked about the signing certificate of every message
	// whose signature verified (revocation: the CA's records, CRL files).
	// They run on every message, past the certificate cache, so a
	// revocation takes effect at the next message.
	Checkers []CertificateChecker
	// Clock supplies now (default the system clock).
	Clock core.Clock
}

// CertificateChecker decides on a signing certificate that passed every
// other rule. issuer is the CA certificate that signed it, nil when the
// certificate is pinned. A *Error is returned as it is; a core error of
// kind Unavailable or Internal too (the check could not be made: the
// message is refused, as a server fault); any other error refuses the
// certificate with CodeFailedAuthentication and the error's reason.
type CertificateChecker interface {
	CheckCertificate(ctx context.Context, cert, issuer *x509.Certificate) error
}

// Verifier checks signed SOAP envelopes. It is safe for concurrent use.
type Verifier struct {
	p      Policy
	pinned [][sha256.Size]byte
	certs  certCache
}

// NewVerifier builds a verifier; a policy with neither roots nor pinned
// certificates is refused because it could accept nothing safely.
func NewVerifier(p Policy) (*Verifier, error) {
	if p.Roots == nil && len(p.Pinned) == 0 {
		return nil, errors.New("wssec: verifier needs CA roots or pinned certificates")
	}
	if p.MaxBytes <= 0 {
		p.MaxBytes = 256 << 10
	}
	if p.MaxDepth <= 0 {
		p.MaxDepth = 32
	}
	if p.MaxElements <= 0 {
		p.MaxElements = 4096
	}
	if p.MaxTTL <= 0 {
		p.MaxTTL = DefaultTTL
	}
	if p.Skew < 0 {
		p.Skew = 0
	} else if p.Skew == 0 {
		p.Skew = 60 * time.Second
	}
	if p.MinRSABits < 2048 {
		p.MinRSABits = 2048
	}
	if p.Clock == nil {
		p.Clock = core.SystemClock{}
	}
	v := &Verifier{p: p}
	for _, c := range p.Pinned {
		v.pinned = append(v.pinned, sha256.Sum256(c.Raw))
	}
	return v, nil
}

// Verified is what a successful verification yields. Only Body is
// application data; nothing else of the envelope is handed out.
type Verified struct {
	// Body is the soap:Body element parsed from the canonical bytes that
	// were digested (a detached document; its children are the payload).
	Body *etree.Element
	// BodyC14N are those canonical bytes.
	BodyC14N []byte
	// Certificate signed the message; Pinned says it was accepted as pinned
	// rather than through a CA chain.
	Certificate *x509.Certificate
	Pinned      bool
	// Issuer is the trusted CA certificate that signed Certificate (nil
	// when pinned).
	Issuer *x509.Certificate
	// Created and Expires are the signed Timestamp's.
	Created, Expires time.Time
	// SignatureValue identifies the message for replay caches.
	SignatureValue []byte
	// SignatureMethod is the algorithm URI that was used.
	SignatureMethod string
}

// Payload returns the first element child of the Body ("" operation if none).
func (v *Verified) Payload() *etree.Element {
	for _, c := range v.Body.ChildElements() {
		return c
	}
	return nil
}

// envelope holds the structural elements found by the shape checks; every
// later step compares against these pointers.
type envelope struct {
	root, header, body             *etree.Element
	security, timestamp, bst, sign *etree.Element
	ids                            map[string]*etree.Element
}

// Verify is VerifyContext without a context.
func (v *Verifier) Verify(raw []byte) (*Verified, error) {
	return v.VerifyContext(context.Background(), raw)
}

// VerifyContext checks raw and returns the verified Body. The steps
// follow DESIGN.md's checklist in order; the first failure ends
// verification. ctx is passed to the policy's Checkers.
func (v *Verifier) VerifyContext(ctx context.Context, raw []byte) (*Verified, error) {
	now := v.p.Clock.Now()
	// 1. Size cap, and no DOCTYPE (nor any other markup declaration) before parsing.
	if len(raw) > v.p.MaxBytes {
		return nil, fail(CodeInvalidSecurity, "message too large")
	}
	if err := checkNoDeclarations(raw); err != nil {
		return nil, err
	}
	// 2. Parse with a depth cap, UTF-8 only, duplicate attributes kept so they can be refused.
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		MaxDepth:               v.p.MaxDepth,
		PreserveDuplicateAttrs: true,
		CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
			return nil, errors.New("only UTF-8 is accepted")
		},
	}
	//    Literal whitespace in attribute values is normalised first, as
	//    every XML parser must (see normalizeAttrWhitespace).
	if err := doc.ReadFromBytes(normalizeAttrWhitespace(raw)); err != nil {
		return nil, fail(CodeInvalidSecurity, "message is not well-formed XML")
	}
	// 3. Exactly one Envelope/Header/Body, one Security with one Timestamp
	//    and one Signature, at most one token; no comments or processing
	//    instructions; no duplicate Ids anywhere.
	env, err := v.shape(doc)
	if err != nil {
		return nil, err
	}
	// 4. The Timestamp: present, well-formed, fresh, TTL within the limit.
	created, expires, err := v.checkTimestamp(env.timestamp, now)
	if err != nil {
		return nil, err
	}
	// 5. SignedInfo: algorithm allow-list, "#id" references, and the signed
	//    elements are exactly the Envelope's Body and the Security's Timestamp.
	si, err := v.parseSignature(env)
	if err != nil {
		return nil, err
	}
	// 6. The key: this header's X509v3 token, or the one registered
	//    certificate a key reference names; pinned or chaining to a
	//    configured CA, RSA >= 2048, digitalSignature + clientAuth, in date.
	tc, err := v.certificate(ctx, env, si.key, now)
	if err != nil {
		return nil, err
	}
	cert, pinned := tc.cert, tc.pinned
	// 7. The signature over the canonical SignedInfo, then every digest.
	h := si.hash.New()
	h.Write(si.c14n)
	if err := tc.key.VerifyPKCS1v15(si.hash, h.Sum(nil), si.sigValue); err != nil {
		return nil, fail(CodeFailedCheck, "signature does not verify")
	}
	var bodyC14N []byte
	for _, r := range si.refs {
		c, err := canonicalize(r.target, r.prefixList)
		if err != nil {
			return nil, fail(CodeInvalidSecurity, "referenced element cannot be canonicalized")
		}
		d := r.hash.New()
		d.Write(c)
		if subtle.ConstantTimeCompare(d.Sum(nil), r.digest) != 1 {
			return nil, fail(CodeFailedCheck, "digest of "+r.target.Tag+" does not match")
		}
		if r.target == env.body {
			bodyC14N = c
		}
	}
	// 7b. Revocation and the other per-message certificate checks, only
	//     for messages that really were signed with the certificate.
	for _, c := range v.p.Checkers {
		if err := c.CheckCertificate(ctx, cert, tc.issuer); err != nil {
			return nil, checkerError(err)
		}
	}
	// 8. Hand out only the Body that was digested, re-parsed from its canonical bytes.
	bd := etree.NewDocument()
	if err := bd.ReadFromBytes(bodyC14N); err != nil {
		return nil, fail(CodeInvalidSecurity, "signed body cannot be parsed")
	}
	return &Verified{
		Body: bd.Root(), BodyC14N: bodyC14N, Certificate: cert, Pinned: pinned, Issuer: tc.issuer,
		Created: created, Expires: expires, SignatureValue: si.sigValue, SignatureMethod: si.method,
	}, nil
}

// checkerError maps a CertificateChecker's error (see there).
func checkerError(err error) error {
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	if k := core.KindOf(err); k == core.KindUnavailable || k == core.KindInternal {
		return err
	}
	return fail(CodeFailedAuthentication, core.ReasonOf(err))
}

// checkNoDeclarations refuses DOCTYPE, ENTITY and every other "<!" markup
// declaration; only comments (refused later) and CDATA sections may start
// with "<!". Entity expansion attacks never reach the parser.
func checkNoDeclarations(raw []byte) error {
	rest := raw
	for {
		i := bytes.Index(rest, []byte("<!"))
		if i < 0 {
			return nil
		}
		rest = rest[i+2:]
		if !bytes.HasPrefix(rest, []byte("--")) && !bytes.HasPrefix(rest, []byte("[CDATA[")) {
			return fail(CodeInvalidSecurity, "DOCTYPE and markup declarations are not allowed")
		}
	}
}

func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// onlyOne returns the single child element of parent named ns:local, and
// fails if there is none or more than one.
func onlyOne(parent *etree.Element, ns, local, what string) (*etree.Element, error) {
	var found *etree.Element
	for _, c := range parent.ChildElements() {
		if is(c, ns, local) {
			if found != nil {
				return nil, fail(CodeInvalidSecurity, "more than one "+what)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fail(CodeInvalidSecurity, "missing "+what)
	}
	return found, nil
}

// atMostOne is onlyOne for an optional element (nil when absent).
func atMostOne(parent *etree.Element, ns, local, what string) (*etree.Element, error) {
	el, err := onlyOne(parent, ns, local, what)
	if err != nil && el == nil {
		for _, c := range parent.ChildElements() {
			if is(c, ns, local) {
				return nil, err // more than one
			}
		}
		return nil, nil
	}
	return el, err
}

func (v *Verifier) shape(doc *etree.Document) (*envelope, error) {
	// Document level: at most the XML declaration and whitespace besides the root.
	roots := 0
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			roots++
		case *etree.ProcInst:
			if t.Target != "xml" {
				return nil, fail(CodeInvalidSecurity, "processing instructions are not allowed")
			}
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, fail(CodeInvalidSecurity, "text outside the envelope")
			}
		default:
			return nil, fail(CodeInvalidSecurity, "comments and declarations are not allowed")
		}
	}
	root := doc.Root()
	if roots != 1 || !is(root, NSSOAP11, "Envelope") {
		return nil, fail(CodeInvalidSecurity, "root element must be one SOAP 1.1 Envelope")
	}
	e := &envelope{root: root, ids: map[string]*etree.Element{}}
	// Walk everything once: element count, comments/PIs, duplicate
	// attributes and document-wide Id uniqueness.
	count := 0
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		count++
		if count > v.p.MaxElements {
			return fail(CodeInvalidSecurity, "too many elements")
		}
		seen := make(map[string]bool, len(el.Attr))
		for i := range el.Attr {
			a := &el.Attr[i]
			if seen[a.FullKey()] {
				return fail(CodeInvalidSecurity, "duplicate attribute")
			}
			seen[a.FullKey()] = true
			if isIDAttr(a) {
				if _, dup := e.ids[a.Value]; dup {
					return fail(CodeInvalidSecurity, "duplicate Id "+quoteID(a.Value))
				}
				e.ids[a.Value] = el
			}
		}
		for _, t := range el.Child {
			switch t := t.(type) {
			case *etree.Element:
				if err := walk(t); err != nil {
					return err
				}
			case *etree.CharData:
			default:
				return fail(CodeInvalidSecurity, "comments and processing instructions are not allowed")
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	// Envelope: Header then Body, nothing else but whitespace.
	kids := root.ChildElements()
	if len(kids) != 2 || !is(kids[0], NSSOAP11, "Header") || !is(kids[1], NSSOAP11, "Body") {
		return nil, fail(CodeInvalidSecurity, "envelope must hold exactly one Header followed by one Body")
	}
	if hasText(root) {
		return nil, fail(CodeInvalidSecurity, "text inside the envelope")
	}
	e.header, e.body = kids[0], kids[1]
	var err error
	if e.security, err = onlyOne(e.header, NSWSSE, "Security", "wsse:Security header"); err != nil {
		return nil, err
	}
	for _, c := range e.security.ChildElements() {
		switch {
		case is(c, NSWSU, "Timestamp"), is(c, NSWSSE, "BinarySecurityToken"), is(c, NSDSig, "Signature"):
		default:
			return nil, fail(CodeUnsupportedSecurityToken, "unexpected element in wsse:Security: "+c.Tag)
		}
	}
	if e.timestamp, err = onlyOne(e.security, NSWSU, "Timestamp", "wsu:Timestamp"); err != nil {
		return nil, err
	}
	// The token is optional: a key reference may name a registered
	// certificate instead.
	if e.bst, err = atMostOne(e.security, NSWSSE, "BinarySecurityToken", "wsse:BinarySecurityToken"); err != nil {
		return nil, err
	}
	if e.sign, err = onlyOne(e.security, NSDSig, "Signature", "ds:Signature"); err != nil {
		return nil, err
	}
	return e, nil
}

// isIDAttr reports whether a is one of the attributes an XML signature
// reference can resolve: wsu:Id, xml:id, or an unqualified Id/ID/id.
func isIDAttr(a *etree.Attr) bool {
	switch {
	case a.Space == "" && (a.Key == "Id" || a.Key == "ID" || a.Key == "id"):
		return true
	case a.Space == "xml" && a.Key == "id":
		return true
	case a.Key == "Id" && a.Space != "" && a.NamespaceURI() == NSWSU:
		return true
	}
	return false
}

func quoteID(s string) string {
	if len(s) > 64 || !isNCName(s) {
		return "(invalid)"
	}
	return `"` + s + `"`
}

func hasText(el *etree.Element) bool {
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return true
		}
	}
	return false
}

func (v *Verifier) checkTimestamp(ts *etree.Element, now time.Time) (time.Time, time.Time, error) {
	for _, c := range ts.ChildElements() {
		if !is(c, NSWSU, "Created") && !is(c, NSWSU, "Expires") {
			return time.Time{}, time.Time{}, fail(CodeInvalidSecurity, "unexpected element in wsu:Timestamp")
		}
	}
	ce, err := onlyOne(ts, NSWSU, "Created", "wsu:Created")
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	ee, err := onlyOne(ts, NSWSU, "Expires", "wsu:Expires")
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	created, err1 := parseTime(ce)
	expires, err2 := parseTime(ee)
	if err1 != nil || err2 != nil {
		return time.Time{}, time.Time{}, fail(CodeInvalidSecurity, "timestamp is not an xsd:dateTime with a time zone")
	}
	switch {
	case !expires.After(created):
		return time.Time{}, time.Time{}, fail(CodeInvalidSecurity, "timestamp expires before it is created")
	case expires.Sub(created) > v.p.MaxTTL:
		return time.Time{}, time.Time{}, fail(CodeInvalidSecurity, "timestamp lifetime exceeds "+v.p.MaxTTL.String())
	case created.After(now.Add(v.p.Skew)):
		return time.Time{}, time.Time{}, fail(CodeMessageExpired, "timestamp created in the future")
	case !expires.After(now.Add(-v.p.Skew)):
		return time.Time{}, time.Time{}, fail(CodeMessageExpired, "message expired")
	}
	return created, expires, nil
}

func parseTime(el *etree.Element) (time.Time, error) {
	if len(el.ChildElements()) > 0 {
		return time.Time{}, errors.New("element content")
	}
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(el.Text()))
}

// signedInfo is the checked content of ds:SignedInfo.
type signedInfo struct {
	c14n     []byte
	method   string
	hash     crypto.Hash
	sigValue []byte
	refs     []reference
	key      *keyInfo // what the KeyInfo names
}

type reference struct {
	target     *etree.Element
	prefixList string
	hash       crypto.Hash
	digest     []byte
}

func (v *Verifier) sigHash(uri string) (crypto.Hash, bool) {
	switch {
	case uri == AlgRSASHA256:
		return crypto.SHA256, true
	case uri == AlgRSASHA1 && v.p.AllowSHA1:
		return crypto.SHA1, true
	}
	return 0, false
}

func (v *Verifier) digestHash(uri string) (crypto.Hash, bool) {
	switch {
	case uri == AlgDigestSHA256:
		return crypto.SHA256, true
	case uri == AlgDigestSHA1 && v.p.AllowSHA1:
		return crypto.SHA1, true
	}
	return 0, false
}

// excC14NPrefixes checks that el is an exclusive c14n method (optionally
// with one InclusiveNamespaces child) and returns its PrefixList.
func excC14NPrefixes(el *etree.Element) (string, error) {
	if el.SelectAttrValue("Algorithm", "") != AlgExcC14N {
		return "", fail(CodeUnsupportedAlgorithm, "canonicalization must be exclusive c14n without comments")
	}
	kids := el.ChildElements()
	switch {
	case len(kids) == 0:
		return "", nil
	case len(kids) == 1 && is(kids[0], NSExcC14N, "InclusiveNamespaces"):
		pl := kids[0].SelectAttrValue("PrefixList", "")
		if !validPrefixList(pl) {
			return "", fail(CodeInvalidSecurity, "invalid InclusiveNamespaces PrefixList")
		}
		return pl, nil
	}
	return "", fail(CodeInvalidSecurity, "unexpected content in canonicalization method")
}

func base64Content(el *etree.Element) ([]byte, error) {
	if len(el.ChildElements()) > 0 {
		return nil, errors.New("element content")
	}
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, el.Text())
	return base64.StdEncoding.Strict().DecodeString(s)
}

func (v *Verifier) parseSignature(e *envelope) (*signedInfo, error) {
	kids := e.sign.ChildElements()
	if len(kids) != 3 || !is(kids[0], NSDSig, "SignedInfo") || !is(kids[1], NSDSig, "SignatureValue") || !is(kids[2], NSDSig, "KeyInfo") {
		return nil, fail(CodeInvalidSecurity, "ds:Signature must hold SignedInfo, SignatureValue and KeyInfo")
	}
	siEl := kids[0]
	out := &signedInfo{}
	sv, err := base64Content(kids[1])
	if err != nil || len(sv) == 0 {
		return nil, fail(CodeInvalidSecurity, "SignatureValue is not base64")
	}
	out.sigValue = sv

	sik := siEl.ChildElements()
	if len(sik) < 3 || !is(sik[0], NSDSig, "CanonicalizationMethod") || !is(sik[1], NSDSig, "SignatureMethod") {
		return nil, fail(CodeInvalidSecurity, "SignedInfo must hold CanonicalizationMethod, SignatureMethod and references")
	}
	siPrefixes, err := excC14NPrefixes(sik[0])
	if err != nil {
		return nil, err
	}
	out.method = sik[1].SelectAttrValue("Algorithm", "")
	var ok bool
	if out.hash, ok = v.sigHash(out.method); !ok || len(sik[1].ChildElements()) > 0 {
		return nil, fail(CodeUnsupportedAlgorithm, "signature algorithm not allowed")
	}
	if len(sik)-2 > 4 {
		return nil, fail(CodeInvalidSecurity, "too many references")
	}
	targets := map[*etree.Element]bool{}
	for _, r := range sik[2:] {
		if !is(r, NSDSig, "Reference") {
			return nil, fail(CodeInvalidSecurity, "unexpected element in SignedInfo")
		}
		ref, err := v.parseReference(e, r)
		if err != nil {
			return nil, err
		}
		if targets[ref.target] {
			return nil, fail(CodeInvalidSecurity, "element referenced twice")
		}
		targets[ref.target] = true
		out.refs = append(out.refs, ref)
	}
	if !targets[e.body] {
		return nil, fail(CodeFailedCheck, "the Envelope's Body is not signed")
	}
	if !targets[e.timestamp] {
		return nil, fail(CodeFailedCheck, "the Timestamp is not signed")
	}
	out.c14n, err = canonicalize(siEl, siPrefixes)
	if err != nil {
		return nil, fail(CodeInvalidSecurity, "SignedInfo cannot be canonicalized")
	}
	if out.key, err = parseKeyInfo(e, kids[2]); err != nil {
		return nil, err
	}
	return out, nil
}

// resolve finds the element of a same-document "#id" reference; any other
// form (empty, external, XPointer) is refused.
func resolve(e *envelope, uri string) (*etree.Element, error) {
	id, ok := strings.CutPrefix(uri, "#")
	if !ok || !isNCName(id) {
		return nil, fail(CodeInvalidSecurity, "references must have the form #id")
	}
	el := e.ids[id]
	if el == nil {
		return nil, fail(CodeInvalidSecurity, "reference to unknown Id "+quoteID(id))
	}
	return el, nil
}

func (v *Verifier) parseReference(e *envelope, r *etree.Element) (reference, error) {
	var ref reference
	target, err := resolve(e, r.SelectAttrValue("URI", ""))
	if err != nil {
		return ref, err
	}
	// The signed elements must BE the Envelope's Body and the Security
	// header's Timestamp (or its token); an element of the same name
	// elsewhere is what a wrapping attack would point at.
	if target != e.body && target != e.timestamp && (e.bst == nil || target != e.bst) {
		return ref, fail(CodeFailedCheck, "reference points at an element that is neither the Body nor the Timestamp")
	}
	ref.target = target
	kids := r.ChildElements()
	if len(kids) != 3 || !is(kids[0], NSDSig, "Transforms") || !is(kids[1], NSDSig, "DigestMethod") || !is(kids[2], NSDSig, "DigestValue") {
		return ref, fail(CodeInvalidSecurity, "Reference must hold Transforms, DigestMethod and DigestValue")
	}
	trs := kids[0].ChildElements()
	// Allowed: [exc-c14n] or [enveloped-signature, exc-c14n]. The enveloped
	// transform is a no-op here, since neither the Body nor the Timestamp
	// can contain the Signature, but node-soap sends it.
	if len(trs) == 2 && is(trs[0], NSDSig, "Transform") && trs[0].SelectAttrValue("Algorithm", "") == AlgEnvelopedSig && len(trs[0].ChildElements()) == 0 {
		trs = trs[1:]
	}
	if len(trs) != 1 || !is(trs[0], NSDSig, "Transform") {
		return ref, fail(CodeUnsupportedAlgorithm, "transforms must be exclusive c14n")
	}
	if ref.prefixList, err = excC14NPrefixes(trs[0]); err != nil {
		return ref, err
	}
	var ok bool
	if ref.hash, ok = v.digestHash(kids[1].SelectAttrValue("Algorithm", "")); !ok || len(kids[1].ChildElements()) > 0 {
		return ref, fail(CodeUnsupportedAlgorithm, "digest algorithm not allowed")
	}
	d, err := base64Content(kids[2])
	if err != nil || len(d) != ref.hash.Size() {
		return ref, fail(CodeInvalidSecurity, "DigestValue is not a base64 digest")
	}
	ref.digest = d
	return ref, nil
}
