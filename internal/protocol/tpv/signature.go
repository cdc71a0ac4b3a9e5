package tpv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Header names of the per-request signature (docs/tpv-signature.md).
const (
	HeaderSignature = "Signature"
	HeaderTimestamp = "X-TPV-Timestamp"
)

// MaxQueryParams bounds the work canonicalising a query costs.
const MaxQueryParams = 100

// loginMessage is the string the login signature covers: the vendor builds
// the query string "token=T&timestamp=S" and signs it as is.
func loginMessage(token, timestamp string) string {
	return "token=" + token + "&timestamp=" + timestamp
}

// hmacSHA256 returns HMAC-SHA256(key, msg).
func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// ParseSignature decodes a hex HMAC-SHA256 (either case) into its 32 bytes.
// field names the parameter or header in the error.
func ParseSignature(field, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*sha256.Size {
		return nil, core.E(core.KindInvalidInput, field+" must be 64 hexadecimal digits")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, core.E(core.KindInvalidInput, field+" must be 64 hexadecimal digits")
	}
	return b, nil
}

// ParseTimestamp reads unix seconds written as plain decimal digits.
func ParseTimestamp(field, s string) (time.Time, error) {
	if s == "" || len(s) > 12 {
		return time.Time{}, core.E(core.KindInvalidInput, field+" must be a unix time in seconds")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, core.E(core.KindInvalidInput, field+" must be a unix time in seconds")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, core.E(core.KindInvalidInput, field+" must be a unix time in seconds")
	}
	return time.Unix(n, 0).UTC(), nil
}

// checkFresh rejects timestamps more than tolerance away from now, in
// either direction. A stale or future timestamp is the client's clock or a
// replay attempt: 400 with a reason the client can act on.
func checkFresh(field string, ts, now time.Time, tolerance time.Duration) error {
	d := now.Sub(ts)
	if d > tolerance {
		return core.Wrap(core.KindInvalidInput, field+" is too old", errDetail("stale timestamp, "+d.Round(time.Second).String()+" behind"))
	}
	if -d > tolerance {
		return core.Wrap(core.KindInvalidInput, field+" is in the future", errDetail("future timestamp, "+(-d).Round(time.Second).String()+" ahead"))
	}
	return nil
}

// queryPair is one decoded query parameter.
type queryPair struct{ name, value string }

// parseQuery splits a raw query into decoded pairs, the way
// application/x-www-form-urlencoded does ('+' is a space), keeping
// duplicates and order. A name without '=' has the empty value. Malformed
// percent-escapes are an error, never silently dropped: the signature must
// cover exactly what the handler will see.
func parseQuery(raw string) ([]queryPair, error) {
	var out []queryPair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if len(out) == MaxQueryParams {
			return nil, core.E(core.KindInvalidInput, "query must have at most "+strconv.Itoa(MaxQueryParams)+" parameters")
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, core.E(core.KindInvalidInput, "query must be correctly percent-encoded")
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, core.E(core.KindInvalidInput, "query must be correctly percent-encoded")
		}
		out = append(out, queryPair{dk, dv})
	}
	return out, nil
}

// CanonicalQuery is the query part of the canonical request: every pair
// RFC 3986-encoded, sorted by encoded name then encoded value (byte order),
// joined with '&'. Duplicates are kept.
func CanonicalQuery(raw string) (string, error) {
	pairs, err := parseQuery(raw)
	if err != nil {
		return "", err
	}
	enc := make([]string, len(pairs))
	for i, p := range pairs {
		enc[i] = rfc3986(p.name) + "=" + rfc3986(p.value)
	}
	// Sorting "name=value" strings would order "a=" after "a-b=" by '=' vs '-';
	// sort on the (name, value) tuple so the rule reads as documented.
	slices.SortFunc(enc, func(a, b string) int {
		an, av, _ := strings.Cut(a, "=")
		bn, bv, _ := strings.Cut(b, "=")
		if c := strings.Compare(an, bn); c != 0 {
			return c
		}
		return strings.Compare(av, bv)
	})
	return strings.Join(enc, "&"), nil
}

// rfc3986 percent-encodes everything but the unreserved characters
// ALPHA / DIGIT / "-" / "." / "_" / "~", with upper-case hex digits.
func rfc3986(s string) string {
	const hexdig = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdig[c>>4], hexdig[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalRequest is the string the Signature header covers: six lines
// joined by "\n", no trailing newline (docs/tpv-signature.md).
func canonicalRequest(method, path, canonQuery, timestamp string, body []byte, authToken string) string {
	sum := sha256.Sum256(body)
	return strings.Join([]string{
		strings.ToUpper(method),
		path,
		canonQuery,
		timestamp,
		hex.EncodeToString(sum[:]),
		authToken,
	}, "\n")
}

// errDetail is an audit-only cause: the caller sees the *core.Error reason,
// the audit log and server log see this text.
type errDetail string

func (e errDetail) Error() string { return string(e) }
