package m2m

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/ca"
)

// dnAttr is one attribute of a distinguished name.
type dnAttr struct {
	oid   asn1.ObjectIdentifier
	value string
}

// dnTypes are the attribute types a configured subject may name (keys
// lower-case; matching is case-insensitive on the type).
var dnTypes = map[string]asn1.ObjectIdentifier{
	"c":            {2, 5, 4, 6},
	"st":           {2, 5, 4, 8},
	"l":            {2, 5, 4, 7},
	"street":       {2, 5, 4, 9},
	"o":            {2, 5, 4, 10},
	"ou":           {2, 5, 4, 11},
	"cn":           {2, 5, 4, 3},
	"serialnumber": {2, 5, 4, 5},
	"postalcode":   {2, 5, 4, 17},
	"emailaddress": {1, 2, 840, 113549, 1, 9, 1},
}

var oidOU = dnTypes["ou"]

// parseDN reads a whole subject in OpenSSL's form, "/C=DE/O=Org/OU=M2M_TA/CN=host"
// (attributes in certificate order), or RFC 4514's, "CN=host,OU=M2M_TA,O=Org,C=DE"
// (reverse order). A backslash escapes the next character. The result is
// in certificate order.
func parseDN(s string) ([]dnAttr, error) {
	s = strings.TrimSpace(s)
	sep, reverse := ',', true
	if strings.HasPrefix(s, "/") {
		sep, reverse, s = '/', false, s[1:]
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(0) // marks an escaped character: never a separator or '='
			cur.WriteByte(s[i])
		case rune(c) == sep:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	var out []dnAttr
	for _, p := range parts {
		typ, val, ok := strings.Cut(p, "=")
		typ = strings.TrimSpace(strings.ReplaceAll(typ, "\x00", ""))
		val = strings.ReplaceAll(strings.TrimSpace(val), "\x00", "")
		if !ok || typ == "" || val == "" {
			return nil, fmt.Errorf("subject %q: %q is not TYPE=value", s, strings.ReplaceAll(p, "\x00", ""))
		}
		oid, known := dnTypes[strings.ToLower(typ)]
		if !known {
			return nil, fmt.Errorf("subject %q: unknown attribute type %q", s, typ)
		}
		out = append(out, dnAttr{oid: oid, value: val})
	}
	if reverse {
		slices.Reverse(out)
	}
	return out, nil
}

// subjectAttrs is a certificate subject as an ordered attribute list; ok
// is false when an attribute value is not a string.
func subjectAttrs(n pkix.Name) ([]dnAttr, bool) {
	out := make([]dnAttr, 0, len(n.Names))
	for _, a := range n.Names {
		v, ok := a.Value.(string)
		if !ok {
			return nil, false
		}
		out = append(out, dnAttr{oid: a.Type, value: v})
	}
	return out, true
}

// sameDN reports whether a certificate subject is exactly want: the same
// attributes, in the same order, with the same values (byte for byte).
func sameDN(n pkix.Name, want []dnAttr) bool {
	got, ok := subjectAttrs(n)
	if !ok || len(got) != len(want) {
		return false
	}
	for i := range got {
		if !got[i].oid.Equal(want[i].oid) || got[i].value != want[i].value {
			return false
		}
	}
	return true
}

// values returns the values of one attribute type.
func values(attrs []dnAttr, oid asn1.ObjectIdentifier) []string {
	var out []string
	for _, a := range attrs {
		if a.oid.Equal(oid) {
			out = append(out, a.value)
		}
	}
	return out
}

// envOU is the organisational unit of an environment's partner
// certificates (the setup document: M2M_TA for TA, M2M for PE).
func envOU(env string) string { return ca.Environment(env).OU() }
