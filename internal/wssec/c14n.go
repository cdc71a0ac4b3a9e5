package wssec

import (
	"bytes"
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

// normalizeAttrWhitespace applies XML 1.0's attribute-value normalisation
// (3.3.3, after the line-end handling of 2.11) to the literal whitespace
// in raw: in every attribute value of every start tag, a literal TAB, LF
// or CR (CR LF counting as one) becomes a space. Character references
// (&#9; &#10; &#13;) are left to the parser, so they stay TAB, LF and CR
// and canonical XML writes them as &#x9; &#xA; &#xD;. encoding/xml, which
// etree parses with, keeps literal whitespace as it is, so without this a
// signer that serializes a literal TAB (meaning a space) and a verifier
// here would digest different canonical bytes. No DTD is accepted, so
// every attribute is CDATA and nothing else is collapsed. Comments, CDATA
// sections, processing instructions and end tags are skipped; raw is
// returned unchanged (not copied) when there is nothing to normalise.
func normalizeAttrWhitespace(raw []byte) []byte {
	var out []byte // copy-on-write
	set := func(i int, c byte) {
		if out == nil {
			out = append([]byte(nil), raw...)
		}
		out[i] = c
	}
	var drop []int // LF positions of CR LF pairs, removed at the end
	skipTo := func(i int, end string) int {
		if j := bytes.Index(raw[i:], []byte(end)); j >= 0 {
			return i + j + len(end)
		}
		return len(raw)
	}
	for i := 0; i < len(raw); {
		if raw[i] != '<' {
			i++
			continue
		}
		rest := raw[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipTo(i+4, "-->")
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipTo(i+9, "]]>")
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipTo(i+2, "?>")
			continue
		case bytes.HasPrefix(rest, []byte("<!")), bytes.HasPrefix(rest, []byte("</")):
			i = skipTo(i+2, ">")
			continue
		}
		// A start tag: up to the first '>' outside a quoted value.
		i++
		var quote byte
	tag:
		for ; i < len(raw); i++ {
			c := raw[i]
			if quote == 0 {
				switch c {
				case '"', '\'':
					quote = c
				case '>':
					i++
					break tag
				}
				continue
			}
			switch c {
			case quote:
				quote = 0
			case '\r':
				set(i, ' ')
				if i+1 < len(raw) && raw[i+1] == '\n' {
					drop = append(drop, i+1)
					i++
				}
			case '\t', '\n':
				set(i, ' ')
			}
		}
	}
	if out == nil {
		return raw
	}
	if len(drop) > 0 {
		res := out[:0:0]
		last := 0
		for _, d := range drop {
			res = append(res, out[last:d]...)
			last = d + 1
		}
		out = append(res, out[last:]...)
	}
	return out
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
