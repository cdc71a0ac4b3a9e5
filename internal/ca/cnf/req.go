package cnf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // subjectKeyIdentifier = hash is SHA-1 by definition (RFC 5280 4.2.1.2 method 1)
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Request is what the [ req ] section of a configuration asks for, as
// `openssl req -new -config FILE` interprets it with prompt = no.
type Request struct {
	Bits       int    // default_bits (2048 when absent, OpenSSL's default)
	Digest     string // default_md (sha256 when absent)
	KeyFile    string // default_keyfile, "" when absent
	StringMask string // string_mask (utf8only when absent, OpenSSL's default)
	Subject    []Attribute
	Extensions []ExtensionSpec // from the req_extensions section, in file order
}

// Attribute is one subject attribute with the ASN.1 string type OpenSSL
// would give it.
type Attribute struct {
	Name  string // the short name: C, ST, L, O, OU, CN, emailAddress ...
	OID   asn1.ObjectIdentifier
	Value string
	Tag   int // asn1.TagPrintableString, TagUTF8String or TagIA5String
}

// ExtensionSpec is one line of an extensions section, not yet encoded
// (subjectKeyIdentifier = hash needs the public key).
type ExtensionSpec struct {
	Name  string
	Value string
}

// Limits and defaults for request generation.
const (
	DefaultBits = 2048
	MinBits     = 2048 // the setup document: "Minimum encryption strength of 2048 bits RSA keys"
	MaxBits     = 8192
)

// attribute types: OID, short and long name, fixed string type (0: by mask).
var attrTypes = []struct {
	short, long string
	oid         asn1.ObjectIdentifier
	tag         int
}{
	{"C", "countryName", asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.TagPrintableString},
	{"ST", "stateOrProvinceName", asn1.ObjectIdentifier{2, 5, 4, 8}, 0},
	{"L", "localityName", asn1.ObjectIdentifier{2, 5, 4, 7}, 0},
	{"O", "organizationName", asn1.ObjectIdentifier{2, 5, 4, 10}, 0},
	{"OU", "organizationalUnitName", asn1.ObjectIdentifier{2, 5, 4, 11}, 0},
	{"CN", "commonName", asn1.ObjectIdentifier{2, 5, 4, 3}, 0},
	{"street", "streetAddress", asn1.ObjectIdentifier{2, 5, 4, 9}, 0},
	{"postalCode", "postalCode", asn1.ObjectIdentifier{2, 5, 4, 17}, 0},
	{"serialNumber", "serialNumber", asn1.ObjectIdentifier{2, 5, 4, 5}, asn1.TagPrintableString},
	{"title", "title", asn1.ObjectIdentifier{2, 5, 4, 12}, 0},
	{"GN", "givenName", asn1.ObjectIdentifier{2, 5, 4, 42}, 0},
	{"SN", "surname", asn1.ObjectIdentifier{2, 5, 4, 4}, 0},
	{"emailAddress", "emailAddress", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.TagIA5String},
	{"DC", "domainComponent", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, asn1.TagIA5String},
	{"UID", "userId", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, 0},
}

// Req interprets the [ req ] section of f.
func Req(f *File) (*Request, error) {
	if _, ok := f.Section("req"); !ok {
		return nil, errors.New("no [ req ] section")
	}
	get := func(name string) string { v, _ := f.Get("req", name); return v }
	r := &Request{Bits: DefaultBits, Digest: "sha256", StringMask: "utf8only", KeyFile: get("default_keyfile")}
	if v := get("default_bits"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("default_bits %q is not a number", v)
		}
		r.Bits = n
	}
	if r.Bits < MinBits || r.Bits > MaxBits {
		return nil, fmt.Errorf("default_bits %d: RSA keys must have %d to %d bits", r.Bits, MinBits, MaxBits)
	}
	if v := get("default_md"); v != "" && v != "default" {
		if _, err := DigestHash(v); err != nil {
			return nil, err
		}
		r.Digest = strings.ToLower(v)
	}
	if v := get("string_mask"); v != "" {
		switch v {
		case "utf8only", "default", "pkix", "nombstr":
			r.StringMask = v
		default:
			return nil, fmt.Errorf("string_mask %q is not supported", v)
		}
	}
	if v := get("prompt"); v != "no" {
		// With prompting, the DN section holds questions and defaults,
		// not values; authgate never asks questions.
		return nil, errors.New("only prompt = no configurations are supported (the DN must be in the file)")
	}
	dnName := get("distinguished_name")
	if dnName == "" {
		return nil, errors.New("[ req ] has no distinguished_name")
	}
	dn, ok := f.Section(dnName)
	if !ok {
		return nil, fmt.Errorf("distinguished_name section [ %s ] is missing", dnName)
	}
	for _, e := range dn.Entries {
		a, err := attribute(e.Name, e.Value, r.StringMask)
		if err != nil {
			return nil, fmt.Errorf("[ %s ] line %d: %w", dnName, e.Line, err)
		}
		r.Subject = append(r.Subject, a)
	}
	if len(r.Subject) == 0 {
		return nil, fmt.Errorf("distinguished_name section [ %s ] is empty", dnName)
	}
	if extName := get("req_extensions"); extName != "" {
		ext, ok := f.Section(extName)
		if !ok {
			return nil, fmt.Errorf("req_extensions section [ %s ] is missing", extName)
		}
		seen := map[string]bool{}
		for _, e := range ext.Entries {
			if seen[e.Name] {
				return nil, fmt.Errorf("[ %s ]: extension %s given twice", extName, e.Name)
			}
			seen[e.Name] = true
			if _, err := encodeExtension(e.Name, e.Value, nil); err != nil && !errors.Is(err, errNeedsKey) {
				return nil, fmt.Errorf("[ %s ] line %d: %w", extName, e.Line, err)
			}
			r.Extensions = append(r.Extensions, ExtensionSpec{Name: e.Name, Value: e.Value})
		}
	}
	return r, nil
}

func attribute(name, value, mask string) (Attribute, error) {
	// OpenSSL ignores everything up to the last '.', ',' or ':' so that
	// "0.OU" and "1.OU" can both be given.
	if i := strings.LastIndexAny(name, ".,:"); i >= 0 {
		name = name[i+1:]
	}
	if strings.HasPrefix(name, "+") {
		return Attribute{}, errors.New("multi-valued RDNs are not supported")
	}
	for _, t := range attrTypes {
		if !strings.EqualFold(name, t.short) && !strings.EqualFold(name, t.long) {
			continue
		}
		if value == "" {
			return Attribute{}, fmt.Errorf("%s is empty", t.short)
		}
		if len(value) > 256 || !utf8.ValidString(value) {
			return Attribute{}, fmt.Errorf("%s must be valid UTF-8 of at most 256 bytes", t.short)
		}
		tag := t.tag
		switch {
		case tag == asn1.TagPrintableString && !printable(value):
			return Attribute{}, fmt.Errorf("%s %q has characters outside PrintableString", t.short, value)
		case tag == asn1.TagIA5String && !ia5(value):
			return Attribute{}, fmt.Errorf("%s %q has non-ASCII characters", t.short, value)
		case tag == 0 && mask != "utf8only" && printable(value):
			tag = asn1.TagPrintableString
		case tag == 0:
			tag = asn1.TagUTF8String
		}
		if t.short == "C" && len(value) != 2 {
			return Attribute{}, fmt.Errorf("C %q must be a two-letter country code", value)
		}
		return Attribute{Name: t.short, OID: t.oid, Value: value, Tag: tag}, nil
	}
	return Attribute{}, fmt.Errorf("unknown subject attribute %q", name)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" '()+,-./:=?", c) >= 0) {
			return false
		}
	}
	return true
}

func ia5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// RawSubject encodes the subject in file order with each attribute's
// string type, as OpenSSL does (crypto/x509 would pick its own types).
func (r *Request) RawSubject() ([]byte, error) {
	type atv struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var rdns []any
	for _, a := range r.Subject {
		set := []atv{{Type: a.OID, Value: asn1.RawValue{Tag: a.Tag, Class: asn1.ClassUniversal, Bytes: []byte(a.Value)}}}
		b, err := asn1.MarshalWithParams(set, "set")
		if err != nil {
			return nil, err
		}
		rdns = append(rdns, asn1.RawValue{FullBytes: b})
	}
	return asn1.Marshal(rdns)
}

// Name returns the subject as a pkix.Name (for display and checks).
func (r *Request) Name() (pkix.Name, error) {
	raw, err := r.RawSubject()
	if err != nil {
		return pkix.Name{}, err
	}
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return pkix.Name{}, err
	}
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	return n, nil
}

// EncodeExtensions encodes the requested extensions for a key.
func (r *Request) EncodeExtensions(pub crypto.PublicKey) ([]pkix.Extension, error) {
	var out []pkix.Extension
	for _, e := range r.Extensions {
		ext, err := encodeExtension(e.Name, e.Value, pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		out = append(out, ext)
	}
	return out, nil
}

// DigestHash maps a default_md name to the signature hash.
func DigestHash(name string) (crypto.Hash, error) {
	switch strings.ToLower(name) {
	case "sha256", "default":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("default_md %q is not supported (use sha256, sha384 or sha512)", name)
}

// OIDs of the extensions the annex configurations use.
var (
	OIDBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	OIDSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDNetscapeComment  = asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 1, 13}
)

// KeyUsageBits are the keyUsage names in bit order (RFC 5280 4.2.1.3).
var KeyUsageBits = []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}

// ExtKeyUsageOIDs maps extendedKeyUsage names to OIDs.
var ExtKeyUsageOIDs = map[string]asn1.ObjectIdentifier{
	"serverAuth":      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	"clientAuth":      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	"codeSigning":     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	"emailProtection": {1, 3, 6, 1, 5, 5, 7, 3, 4},
	"timeStamping":    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	"OCSPSigning":     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

var errNeedsKey = errors.New("needs the public key")

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// encodeExtension encodes one "name = value" line of an extensions
// section. pub may be nil to only validate; then subjectKeyIdentifier
// returns errNeedsKey.
func encodeExtension(name, value string, pub crypto.PublicKey) (pkix.Extension, error) {
	ext := pkix.Extension{}
	items := splitList(value)
	if len(items) > 0 && items[0] == "critical" {
		ext.Critical = true
		items = items[1:]
	}
	if len(items) == 0 {
		return ext, errors.New("empty value")
	}
	var err error
	switch name {
	case "basicConstraints":
		ext.Id = OIDBasicConstraints
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		bc.MaxPathLen = -1
		for _, it := range items {
			k, v, _ := strings.Cut(it, ":")
			switch {
			case strings.EqualFold(k, "CA") && strings.EqualFold(v, "TRUE"):
				bc.IsCA = true
			case strings.EqualFold(k, "CA") && strings.EqualFold(v, "FALSE"):
				bc.IsCA = false
			case strings.EqualFold(k, "pathlen"):
				n, perr := strconv.Atoi(v)
				if perr != nil || n < 0 || n > 64 {
					return ext, fmt.Errorf("bad pathlen %q", v)
				}
				bc.MaxPathLen = n
			default:
				return ext, fmt.Errorf("unknown basicConstraints item %q", it)
			}
		}
		ext.Value, err = asn1.Marshal(bc)
	case "keyUsage":
		ext.Id = OIDKeyUsage
		var bits [2]byte
		highest := -1
		for _, it := range items {
			idx := -1
			for i, n := range KeyUsageBits {
				if n == it {
					idx = i
				}
			}
			if idx < 0 {
				return ext, fmt.Errorf("unknown keyUsage %q", it)
			}
			bits[idx/8] |= 0x80 >> (idx % 8)
			highest = max(highest, idx)
		}
		n := highest + 1
		ext.Value, err = asn1.Marshal(asn1.BitString{Bytes: bits[:(n+7)/8], BitLength: n})
	case "extendedKeyUsage":
		ext.Id = OIDExtKeyUsage
		var oids []asn1.ObjectIdentifier
		for _, it := range items {
			oid, ok := ExtKeyUsageOIDs[it]
			if !ok {
				if oid, err = parseOID(it); err != nil {
					return ext, fmt.Errorf("unknown extendedKeyUsage %q", it)
				}
			}
			oids = append(oids, oid)
		}
		ext.Value, err = asn1.Marshal(oids)
	case "nsComment":
		ext.Id = OIDNetscapeComment
		if !ia5(value) {
			return ext, errors.New("nsComment must be ASCII")
		}
		// The whole value, commas included, is the comment.
		ext.Critical = false
		ext.Value, err = asn1.MarshalWithParams(value, "ia5")
	case "subjectKeyIdentifier":
		ext.Id = OIDSubjectKeyID
		if len(items) != 1 || items[0] != "hash" {
			return ext, errors.New(`only subjectKeyIdentifier = hash is supported`)
		}
		if pub == nil {
			return ext, errNeedsKey
		}
		id, kerr := KeyID(pub)
		if kerr != nil {
			return ext, kerr
		}
		ext.Value, err = asn1.Marshal(id)
	case "subjectAltName":
		ext.Id = OIDSubjectAltName
		ext.Value, err = encodeSAN(items)
	default:
		return ext, fmt.Errorf("extension %q is not supported", name)
	}
	return ext, err
}

// KeyID is the RFC 5280 method-1 key identifier: SHA-1 of the
// subjectPublicKey bits, which is what OpenSSL's "hash" computes.
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.PublicKey.Bytes) //nolint:gosec // see import
	return sum[:], nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, errors.New("not an OID")
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, errors.New("not an OID")
		}
		oid[i] = n
	}
	return oid, nil
}

func encodeSAN(items []string) ([]byte, error) {
	var names []asn1.RawValue
	for _, it := range items {
		k, v, ok := strings.Cut(it, ":")
		if !ok || v == "" {
			return nil, fmt.Errorf("subjectAltName item %q must be TYPE:value", it)
		}
		switch k {
		case "DNS":
			if !ia5(v) {
				return nil, fmt.Errorf("DNS name %q must be ASCII", v)
			}
			names = append(names, asn1.RawValue{Tag: 2, Class: asn1.ClassContextSpecific, Bytes: []byte(v)})
		case "email":
			if !ia5(v) {
				return nil, fmt.Errorf("email %q must be ASCII", v)
			}
			names = append(names, asn1.RawValue{Tag: 1, Class: asn1.ClassContextSpecific, Bytes: []byte(v)})
		case "URI":
			if _, err := url.Parse(v); err != nil || !ia5(v) {
				return nil, fmt.Errorf("bad URI %q", v)
			}
			names = append(names, asn1.RawValue{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(v)})
		case "IP":
			ip := net.ParseIP(v)
			if ip == nil {
				return nil, fmt.Errorf("bad IP address %q", v)
			}
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			names = append(names, asn1.RawValue{Tag: 7, Class: asn1.ClassContextSpecific, Bytes: ip})
		default:
			return nil, fmt.Errorf("subjectAltName type %q is not supported", k)
		}
	}
	return asn1.Marshal(names)
}

// CreateCSR makes a PKCS#10 request for key with the subject (string types
// and order preserved) and extensions of r, signed with r's digest.
func (r *Request) CreateCSR(rand io.Reader, key crypto.Signer) ([]byte, error) {
	raw, err := r.RawSubject()
	if err != nil {
		return nil, err
	}
	exts, err := r.EncodeExtensions(key.Public())
	if err != nil {
		return nil, err
	}
	h, err := DigestHash(r.Digest)
	if err != nil {
		return nil, err
	}
	var alg x509.SignatureAlgorithm
	switch key.Public().(type) {
	case *rsa.PublicKey:
		alg = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h]
	case *ecdsa.PublicKey:
		alg = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h]
	default:
		return nil, errors.New("unsupported key type")
	}
	return x509.CreateCertificateRequest(rand, &x509.CertificateRequest{
		RawSubject: raw, ExtraExtensions: exts, SignatureAlgorithm: alg,
	}, key)
}
