package wssec

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf16"
)

// dnAttr is one attribute of a distinguished name. A value given as
// "#hex" in the string form is kept as its DER encoding in der.
type dnAttr struct {
	oid   asn1.ObjectIdentifier
	value string
	der   []byte
}

// dnTypes are the attribute type names stacks write in X509IssuerName
// (upper case keys; "S" and "E" are .NET's spellings).
var dnTypes = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "SN": {2, 5, 4, 4}, "SURNAME": {2, 5, 4, 4}, "SERIALNUMBER": {2, 5, 4, 5},
	"C": {2, 5, 4, 6}, "L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8}, "S": {2, 5, 4, 8},
	"STREET": {2, 5, 4, 9}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "T": {2, 5, 4, 12}, "TITLE": {2, 5, 4, 12},
	"POSTALCODE": {2, 5, 4, 17}, "G": {2, 5, 4, 42}, "GIVENNAME": {2, 5, 4, 42},
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "UID": {0, 9, 2342, 19200300, 100, 1, 1},
	"E": {1, 2, 840, 113549, 1, 9, 1}, "EMAIL": {1, 2, 840, 113549, 1, 9, 1}, "EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

// parseRFC4514 reads a distinguished name in RFC 4514's string form (as
// Java, .NET and xmlsec write X509IssuerName): RDNs separated by ',' (or
// ';'), multi-valued RDNs by '+', spaces around separators ignored,
// backslash escapes, "#hex" values and OID types (also as "OID.1.2.3").
// The result is flattened in string order (the reverse of the
// certificate's).
func parseRFC4514(s string) ([]dnAttr, error) {
	var out []dnAttr
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, errors.New("attribute without a type")
		}
		typ := strings.TrimSpace(s[i : i+eq])
		oid, err := dnType(typ)
		if err != nil {
			return nil, err
		}
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		a := dnAttr{oid: oid}
		if i < len(s) && s[i] == '#' {
			j := i + 1
			for j < len(s) && isHex(s[j]) {
				j++
			}
			if a.der, err = hex.DecodeString(s[i+1 : j]); err != nil || len(a.der) == 0 {
				return nil, errors.New("bad hex value")
			}
			i = j
		} else {
			var b strings.Builder
			quoted := i < len(s) && s[i] == '"'
			if quoted {
				i++
			}
			for i < len(s) {
				c := s[i]
				if quoted && c == '"' {
					i++
					break
				}
				if !quoted && (c == ',' || c == ';' || c == '+') {
					break
				}
				if c == '\\' {
					if i+1 >= len(s) {
						return nil, errors.New("dangling escape")
					}
					if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
						v, _ := hex.DecodeString(s[i+1 : i+3])
						b.WriteByte(v[0])
						i += 3
						continue
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(c)
				i++
			}
			a.value = strings.TrimRight(b.String(), " ")
		}
		out = append(out, a)
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		if c := s[i]; c != ',' && c != ';' && c != '+' {
			return nil, errors.New("garbage after a value")
		}
		i++
	}
}

func dnType(t string) (asn1.ObjectIdentifier, error) {
	u := strings.ToUpper(t)
	if oid, ok := dnTypes[u]; ok {
		return oid, nil
	}
	u = strings.TrimPrefix(u, "OID.")
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(u, ".") {
		n := 0
		if p == "" || len(p) > 9 {
			return nil, errors.New("unknown attribute type")
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, errors.New("unknown attribute type")
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, errors.New("unknown attribute type")
	}
	return oid, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// rawAttr is an AttributeTypeAndValue with its value still encoded.
type rawAttr struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is one relative distinguished name (encoding/asn1 reads a SET
// OF for slice types whose name ends in SET).
type rdnSET []rawAttr

// issuerMatches reports whether name (RFC 4514) is the DER name raw:
// the same attributes, RDN by RDN, in string order (reverse of the
// certificate's) or, as some stacks write it, in certificate order;
// types by OID, string values compared ignoring case and repeated spaces
// (X.520 caseIgnoreMatch), "#hex" values byte for byte.
func issuerMatches(name string, raw []byte) bool {
	want, err := parseRFC4514(name)
	if err != nil {
		return false
	}
	var rdns []rdnSET
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) > 0 {
		return false
	}
	var got []rawAttr
	for i := len(rdns) - 1; i >= 0; i-- {
		got = append(got, rdns[i]...)
	}
	if attrsEqual(want, got) {
		return true
	}
	got = got[:0]
	for _, r := range rdns {
		got = append(got, r...)
	}
	return attrsEqual(want, got)
}

func attrsEqual(want []dnAttr, got []rawAttr) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		g := got[i]
		if !w.oid.Equal(g.Type) {
			return false
		}
		if w.der != nil {
			if string(w.der) != string(g.Value.FullBytes) {
				return false
			}
			continue
		}
		s, ok := dnString(g.Value)
		if !ok || foldDN(s) != foldDN(w.value) {
			return false
		}
	}
	return true
}

// dnString decodes the directory string types.
func dnString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

func foldDN(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
