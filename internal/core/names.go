package core

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest human-chosen name (organisation, principal,
// key, client, device, product), in characters.
const MaxNameLen = 200

// ValidName checks a human-chosen name before it is stored and later shown
// in listings, logs and audit records: 1 to MaxNameLen characters of valid
// UTF-8 (surrounding spaces do not count), no control characters (C0, DEL,
// C1: NUL truncates in C tools, newlines forge log lines) and no bidi
// embedding, override or isolate characters (U+202A-U+202E,
// U+2066-U+2069, U+200E/U+200F, U+061C) that make a name display as
// another. what names the field in the caller-safe reason ("Name",
// "organisation name"). The error is KindInvalidInput.
func ValidName(what, name string) error {
	n := strings.TrimSpace(name)
	if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen {
		return E(KindInvalidInput, what+" must be 1 to "+strconv.Itoa(MaxNameLen)+" characters of valid UTF-8")
	}
	if strings.ContainsFunc(n, unsafeNameRune) {
		return E(KindInvalidInput, what+" must not contain control or bidirectional formatting characters")
	}
	return nil
}

// unsafeNameRune reports control characters and bidi formatting characters.
func unsafeNameRune(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL, C1
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
