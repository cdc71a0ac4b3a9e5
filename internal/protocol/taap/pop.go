package taap

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// The pseudo-header names of ehts. They are lower case; any other name is
// an HTTP header, looked up case-insensitively.
const (
	PartURI    = "uri"
	PartMethod = "http-method"
	PartBody   = "body"
)

// Limits on untrusted PoP input.
const (
	// MaxTokenBytes bounds the X-Authorization value.
	MaxTokenBytes = 8 << 10
	// MaxParts bounds the number of names in ehts.
	MaxParts   = 32
	maxNameLen = 128
)

// Token is a PoP token that parsed but is not yet verified.
type Token struct {
	Alg          string
	IssuedAt     int64
	Expires      int64
	EHTS         string   // as signed
	Parts        []string // ehts split on ';', in order
	EDTS         string
	JTI          string
	Version      string // "1", also when sent as the number 1 or as "v1"
	SigningInput string // base64url(header) "." base64url(claims)
	Signature    []byte
	Key          *rsa.PublicKey // the registered key that verified the signature
}

type rawHeader struct {
	Alg  *string         `json:"alg"`
	Crit json.RawMessage `json:"crit"`
}

type rawClaims struct {
	IAT  json.RawMessage `json:"iat"`
	EXP  json.RawMessage `json:"exp"`
	EHTS *string         `json:"ehts"`
	EDTS *string         `json:"edts"`
	JTI  *string         `json:"jti"`
	V    json.RawMessage `json:"v"`
}

// ParseToken splits and decodes a JWS compact serialization and reads the
// PoP claims. It checks form only (CheckFormat, CheckVersion, CheckEHTS);
// Verifier.Verify checks everything else. The header's typ and member
// order are ignored (T-Mobile's Java and JS builders differ); crit is
// refused because no extension is understood.
func ParseToken(s string) (*Token, error) {
	if s == "" {
		return nil, fail(CheckPresent, "X-Authorization header with a PoP token is required")
	}
	if len(s) > MaxTokenBytes {
		return nil, fail(CheckFormat, fmt.Sprintf("PoP token longer than %d bytes", MaxTokenBytes))
	}
	h, rest, ok1 := strings.Cut(s, ".")
	c, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, fail(CheckFormat, "PoP token is not a JWS compact serialization (want header.claims.signature)")
	}
	hb, err := b64(h)
	if err != nil {
		return nil, fail(CheckFormat, "PoP token header is not base64url without padding")
	}
	cb, err := b64(c)
	if err != nil {
		return nil, fail(CheckFormat, "PoP token claims are not base64url without padding")
	}
	sb, err := b64(sig)
	if err != nil || len(sb) == 0 {
		return nil, fail(CheckFormat, "PoP token signature is not base64url without padding")
	}
	var hdr rawHeader
	if err := strictJSON(hb, &hdr); err != nil {
		return nil, fail(CheckFormat, "PoP token header is not a JSON object")
	}
	if hdr.Alg == nil || *hdr.Alg == "" {
		return nil, fail(CheckAlg, "PoP token header has no alg")
	}
	if len(hdr.Crit) > 0 {
		return nil, fail(CheckFormat, "PoP token header has crit extensions, which are not supported")
	}
	var cl rawClaims
	if err := strictJSON(cb, &cl); err != nil {
		return nil, fail(CheckFormat, "PoP token claims are not a JSON object")
	}
	t := &Token{Alg: *hdr.Alg, SigningInput: s[:len(h)+1+len(c)], Signature: sb}
	if t.IssuedAt, err = numericDate(cl.IAT); err != nil {
		return nil, fail(CheckFormat, "claim iat "+err.Error())
	}
	if t.Expires, err = numericDate(cl.EXP); err != nil {
		return nil, fail(CheckFormat, "claim exp "+err.Error())
	}
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"ehts", cl.EHTS, &t.EHTS}, {"edts", cl.EDTS, &t.EDTS}, {"jti", cl.JTI, &t.JTI}} {
		if f.v == nil || *f.v == "" {
			return nil, fail(CheckFormat, "claim "+f.name+" is missing or not a non-empty string")
		}
		*f.dst = *f.v
	}
	if len(t.JTI) > 256 {
		return nil, fail(CheckFormat, "claim jti is longer than 256 characters")
	}
	if t.Version, err = version(cl.V); err != nil {
		return nil, fail(CheckVersion, err.Error())
	}
	if t.Parts, err = ParseEHTS(t.EHTS); err != nil {
		return nil, err
	}
	return t, nil
}

// b64 decodes unpadded base64url, the only encoding JWS compact allows.
func b64(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

// strictJSON decodes one JSON object; json.Unmarshal refuses trailing data.
func strictJSON(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not an object")
	}
	return json.Unmarshal(b, v)
}

// numericDate reads a JWT NumericDate: a JSON number of seconds. Fractions
// are truncated (RFC 7519 allows them; no reference builder sends them).
func numericDate(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, fmt.Errorf("is missing")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || raw[0] == '"' {
		return 0, fmt.Errorf("is not a number")
	}
	if f < 0 || f > math.MaxInt32*4 || math.IsNaN(f) {
		return 0, fmt.Errorf("is out of range")
	}
	return int64(f), nil
}

// version reads claim v as version 1: the string "1" (what the npm and
// Java builders send), the number 1, and the string "v1" (what other
// T-Mobile libraries send). Anything else is another version, refused.
func version(raw json.RawMessage) (string, error) {
	switch strings.TrimSpace(string(raw)) {
	case `"1"`, `1`, `"v1"`:
		return "1", nil
	case "", "null":
		return "", fmt.Errorf(`claim v is missing (want "1")`)
	}
	return "", fmt.Errorf(`claim v is %.20s, want "1"`, string(raw))
}

// ParseEHTS splits an ehts claim into its names. Names keep their case
// and order; blanks around ';' are tolerated (the TAAP documentation's
// own example has them), empty and duplicate names are not.
func ParseEHTS(ehts string) ([]string, error) {
	if ehts == "" {
		return nil, fail(CheckEHTS, "ehts is empty")
	}
	if strings.Count(ehts, ";") >= MaxParts {
		return nil, fail(CheckEHTS, fmt.Sprintf("ehts names more than %d parts", MaxParts))
	}
	raw := strings.Split(ehts, ";")
	parts := make([]string, 0, len(raw))
	for i, p := range raw {
		p = strings.Trim(p, " \t")
		if p == "" {
			return nil, fail(CheckEHTS, fmt.Sprintf("ehts part %d is empty", i+1))
		}
		if len(p) > maxNameLen || !headerName(p) {
			return nil, fail(CheckEHTS, fmt.Sprintf("ehts part %d is not a header name", i+1))
		}
		for _, q := range parts {
			if strings.EqualFold(p, q) {
				return nil, fail(CheckEHTS, fmt.Sprintf("ehts names %q twice", p))
			}
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// headerName reports whether s is an RFC 9110 token.
func headerName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isPseudo reports whether name is one of the lower-case pseudo-headers.
func isPseudo(name string) bool { return name == PartURI || name == PartMethod || name == PartBody }

// Signed is what of a request a PoP token can sign: its method and
// request-target exactly as sent, its headers and its raw body.
type Signed struct {
	Method string
	URI    string // path plus "?query" as sent, no scheme or host
	Header http.Header
	Body   []byte
}

// FromRequest takes the signed parts of r; body is r's body, already read.
// The uri is the request-target exactly as it came on the request line
// (r.RequestURI), not re-encoded from the parsed URL: a client signs what
// it sends. An absolute-form target (scheme and host) and requests built
// in process (no RequestURI) fall back to the parsed URL's path and query.
func FromRequest(r *http.Request, body []byte) Signed {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	return Signed{Method: r.Method, URI: uri, Header: r.Header, Body: body}
}

// value returns the value a part name stands for, and whether the
// request has it. Headers are looked up by case-insensitive name; a
// header sent several times signs as its first value.
func (s Signed) value(name string) (string, bool) {
	switch name {
	case PartURI:
		return s.URI, true
	case PartMethod:
		return s.Method, true
	case PartBody:
		return string(s.Body), true
	}
	vs := s.Header.Values(name)
	if len(vs) == 0 {
		for k, v := range s.Header { // non-canonical keys set directly in the map
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0], true
			}
		}
		return "", false
	}
	return vs[0], true
}

// has reports whether the request carries part name (pseudo-parts always).
func (s Signed) has(name string) bool {
	_, ok := s.value(name)
	return ok
}

// EDTS computes the edts of the named parts of s: base64url (no padding)
// of SHA-256 over the values concatenated with no separator. It fails
// with CheckEDTS if a named header is not in the request.
func (s Signed) EDTS(parts []string) (string, error) {
	h := sha256.New()
	for _, p := range parts {
		v, ok := s.value(p)
		if !ok {
			return "", fail(CheckEDTS, fmt.Sprintf("ehts names header %q, which the request does not carry", p))
		}
		h.Write([]byte(v))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// Canonical is the string EDTS hashes, with the Authorization value
// replaced by a description (it holds client credentials or an access
// token), for the debug echo of an edts mismatch.
func (s Signed) Canonical(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		v, _ := s.value(p)
		if strings.EqualFold(p, "Authorization") && v != "" {
			sum := sha256.Sum256([]byte(v))
			scheme, _, _ := strings.Cut(v, " ")
			fmt.Fprintf(&b, "<Authorization: %s ..., %d bytes, sha256 %x>", scheme, len(v), sum[:4])
			continue
		}
		b.WriteString(v)
	}
	return b.String()
}
