package wssec

import (
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// canonicalize returns the exclusive XML canonical form (without comments)
// of el as it stands in its document: namespaces declared on ancestors are
// carried onto a detached copy first, then exclusive c14n keeps only the
// visibly used ones and those named in prefixList. el is not modified.
func canonicalize(el *etree.Element, prefixList string) ([]byte, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	return dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList).Canonicalize(detached)
}

// validPrefixList reports whether s is an NMTOKENS list of prefixes
// (#default allowed), which is all InclusiveNamespaces may carry.
func validPrefixList(s string) bool {
	for _, p := range strings.Fields(s) {
		if p == "#default" {
			continue
		}
		if !isNCName(p) {
			return false
		}
	}
	return true
}

// isNCName is a conservative NCName check (ASCII letters, digits, '_',
// '-', '.'; no leading digit, '-' or '.'), enough for the Ids and prefixes
// that WS-Security stacks generate.
func isNCName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
