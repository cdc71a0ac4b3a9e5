package core

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of caller-supplied text in audit records and log lines. Subjects
// of failed events come from unauthenticated input (a username, a key id
// as sent) and get the tighter bound.
const (
	MaxLoggedSubject       = 256
	MaxLoggedFailedSubject = 64
	MaxLoggedReason        = 512
)

// LogSafe returns a bounded, printable form of s for logs and audit
// records: control characters, bidi formatting characters, invalid UTF-8
// and backslashes are escaped (\x1b, \u202e, \\), so a value cannot forge
// a log line or colour a terminal, and an escaped form longer than max
// bytes is cut and followed by the original length and a SHA-256 prefix,
// so repeated attempts with one long value still correlate without the
// record holding the whole of it (which may be a password typed into the
// username field).
func LogSafe(s string, max int) string {
	if len(s) <= max && plainASCII(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		mark := b.Len()
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x` + hex.EncodeToString([]byte{s[i]}))
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			b.WriteString(`\x` + hex.EncodeToString([]byte{byte(r)}))
		case r >= 0x80 && (!unicode.IsPrint(r) || unsafeNameRune(r)):
			b.WriteString(`\u` + strconv.FormatInt(int64(r), 16))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
		if b.Len() > max { // cut between escapes, never inside one
			sum := sha256.Sum256([]byte(s))
			return b.String()[:mark] + "...(" + strconv.Itoa(len(s)) + " bytes, sha256:" + hex.EncodeToString(sum[:6]) + ")"
		}
	}
	return b.String()
}

// plainASCII reports whether s is printable ASCII without backslashes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
