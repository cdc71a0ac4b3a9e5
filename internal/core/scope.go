package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scopes are RFC 6749 section 3.3 lists: scope-tokens separated by single
// spaces, compared exactly (case-sensitively). Every family that issues
// or checks a scope uses these rules.

// MaxScopeTokens bounds how many tokens one scope may list.
const MaxScopeTokens = 64

// maxScopeTokenLen bounds one token (API resource names are at most 64).
const maxScopeTokenLen = 128

// ValidScopeToken reports whether s is one scope-token: 1*NQCHAR
// (%x21 / %x23-5B / %x5D-7E), at most 128 characters.
func ValidScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseScope splits a scope into its tokens, in order, without repeats.
// Tokens are separated by spaces (runs of them are tolerated); a token
// that is not a scope-token, or more than MaxScopeTokens, is an error.
func ParseScope(s string) ([]string, error) {
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !ValidScopeToken(tok) {
			return nil, errors.New("scope holds a value that is not a scope token (printable ASCII except space, quote and backslash)")
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
		if len(out) > MaxScopeTokens {
			return nil, fmt.Errorf("scope lists more than %d values", MaxScopeTokens)
		}
	}
	return out, nil
}

// HasScope reports whether the space-separated scope includes want.
func HasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

// IntersectScope returns the tokens of requested that allowed holds, in
// the requested order: what a grant may give (RFC 6749 section 3.3).
func IntersectScope(requested, allowed []string) []string {
	var out []string
	for _, s := range requested {
		if slices.Contains(allowed, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
