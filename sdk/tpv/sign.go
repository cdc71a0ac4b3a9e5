// Package tpv is a Go client for the TPV Hub API as served by authgate:
// the HMAC login that yields an auth_token, the per-request Signature
// (docs/tpv-signature.md) and the TPV calls. It depends only on the
// standard library.
package tpv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Header names of the per-request signature.
const (
	HeaderSignature = "Signature"
	HeaderTimestamp = "X-TPV-Timestamp"
)

// LoginMessage is the string the login signature covers.
func LoginMessage(token, timestamp string) string {
	return "token=" + token + "&timestamp=" + timestamp
}

// LoginSignature is hex HMAC-SHA256(key = app secret, LoginMessage), the
// vendor's hash_hmac('sha256', 'token=T&timestamp=S', $appSecret).
func LoginSignature(token, timestamp, appSecret string) string {
	return hexHMAC(appSecret, LoginMessage(token, timestamp))
}

// LoginURL returns the login URL for baseURL at time t, signed.
func LoginURL(baseURL, token, appSecret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	q := "token=" + url.QueryEscape(token) + "&timestamp=" + ts + "&_signature=" + LoginSignature(token, ts, appSecret)
	return strings.TrimRight(baseURL, "/") + "/api/v1/auth?" + q
}

// CanonicalQuery returns the query line of the canonical request: each
// parameter decoded as application/x-www-form-urlencoded, re-encoded per
// RFC 3986 (unreserved characters bare, everything else %XX upper-case),
// sorted by name then value, joined with '&'.
func CanonicalQuery(rawQuery string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", err
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", err
		}
		pairs = append(pairs, pair{encode(dk), encode(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&"), nil
}

func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// CanonicalRequest is the string the Signature header covers:
//
//	UPPER(method) \n path \n canonical query \n timestamp \n hex(SHA-256(body)) \n auth token
func CanonicalRequest(method, escapedPath, canonicalQuery, timestamp string, body []byte, authToken string) string {
	sum := sha256.Sum256(body)
	return strings.ToUpper(method) + "\n" + escapedPath + "\n" + canonicalQuery + "\n" + timestamp + "\n" +
		hex.EncodeToString(sum[:]) + "\n" + authToken
}

// RequestSignature signs a request: hex HMAC-SHA256 of CanonicalRequest
// keyed with the application secret.
func RequestSignature(appSecret, method string, u *url.URL, timestamp string, body []byte, authToken string) (string, error) {
	cq, err := CanonicalQuery(u.RawQuery)
	if err != nil {
		return "", err
	}
	return hexHMAC(appSecret, CanonicalRequest(method, u.EscapedPath(), cq, timestamp, body, authToken)), nil
}

func hexHMAC(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
