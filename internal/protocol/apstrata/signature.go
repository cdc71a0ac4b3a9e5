package apstrata

import (
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // the protocol's simple signature and password key are MD5
	"crypto/sha1" //nolint:gosec // the protocol's default signature is HMAC-SHA1
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// Parameter names of the common request parameters.
const (
	pTime         = "apsws.time"
	pSig          = "apsws.authSig"
	pMode         = "apsws.authMode"
	pUser         = "apsws.user"
	pID           = "apsws.id"
	pResponseType = "apsws.responseType"
	pToken        = "apsdb.authToken"
	pExpires      = "apsdb.tokenExpires"
	pLifetime     = "apsdb.tokenLifetime"
	pBindReferrer = "apsdb.bindReferrer"
	pInCookie     = "apsdb.tokenInCookie"
	pRunAs        = "apsdb.runAs"
)

// Encode is the protocol's URL encoding: every byte but A-Z a-z 0-9 - _ .
// becomes %XX with upper-case hex, so "~" is %7E, "*" %2A and space %20.
func Encode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

// Pair is one request parameter as received.
type Pair struct{ Name, Value string }

// canonicalPairs builds the default signature's parameter string: every
// parameter but apsws.authSig as encode(name)=encode(value), duplicates
// dropped, byte-sorted, joined by "&". With rawUser the apsws.user value is
// left unencoded, as the Java SDK signs it.
func canonicalPairs(params []Pair, rawUser bool) string {
	parts := make([]string, 0, len(params))
	for _, p := range params {
		if p.Name == pSig {
			continue
		}
		v := Encode(p.Value)
		if rawUser && p.Name == pUser {
			v = p.Value
		}
		parts = append(parts, Encode(p.Name)+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), "&")
}

// StringToSign is the default signature's input:
// UPPER(method) \n encode(serviceURL/authKey/action) \n pairs.
func StringToSign(method, serviceURL, authKey, action string, params []Pair, rawUser bool) string {
	return strings.ToUpper(method) + "\n" + Encode(strings.TrimRight(serviceURL, "/")+"/"+authKey+"/"+action) + "\n" + canonicalPairs(params, rawUser)
}

// PasswordKey is the signing key of users and devices: UPPER(hex(MD5(password))).
func PasswordKey(password string) string {
	sum := md5.Sum([]byte(password)) //nolint:gosec // protocol-defined
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// DefaultSignature is hex HMAC-SHA1(key, stringToSign), lower case.
func DefaultSignature(key, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// SimpleSignature is hex MD5(time + who + action + key), lower case: who is
// the authKey for owners (and for users in the PHP SDK), the login for
// users in the Java SDK; key is the owner secret or PasswordKey.
func SimpleSignature(time, who, action, key string) string {
	sum := md5.Sum([]byte(time + who + action + key)) //nolint:gosec // protocol-defined
	return hex.EncodeToString(sum[:])
}

// sigEqual compares a received hex signature with a computed one in
// constant time, accepting upper- or lower-case hex.
func sigEqual(got, want string) bool {
	g, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	w, err := hex.DecodeString(want)
	if err != nil {
		return false
	}
	return hmac.Equal(g, w)
}

// Limits on what a request may carry, so parsing stays cheap.
const (
	maxParams     = 256
	maxParamBytes = 64 << 10
)

// ParseParams reads parameters from a query string or form body in order,
// keeping duplicates, and rejects oversized or malformed input.
func ParseParams(raw string) ([]Pair, error) {
	out, _, err := parseParams(raw)
	return out, err
}

// parseParams is ParseParams that also returns, for each pair, its value
// with every literal "+" kept ("" when the raw value had none): the PHP SDK
// puts apsws.user into the URL unencoded, so "jane+1@x" arrives as a "+"
// that form decoding reads as a space.
func parseParams(raw string) ([]Pair, []string, error) {
	if len(raw) > maxParamBytes {
		return nil, nil, errTooLarge
	}
	var out []Pair
	var literal []string
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		if len(out) == maxParams {
			return nil, nil, errTooMany
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, nil, errMalformed
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, nil, errMalformed
		}
		lit := ""
		if strings.Contains(v, "+") {
			if lit, err = url.PathUnescape(v); err != nil {
				return nil, nil, errMalformed
			}
		}
		out = append(out, Pair{Name: name, Value: value})
		literal = append(literal, lit)
	}
	return out, literal, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errTooLarge  parseError = "request parameters too large"
	errTooMany   parseError = "too many request parameters"
	errMalformed parseError = "malformed request parameters"
)
