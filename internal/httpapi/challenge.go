package httpapi

import "strings"

// Challenge is the WWW-Authenticate value of a 401 in the RFC 6750 shape
// (section 3): scheme (default Bearer) with authgate's realm and, for a
// Bearer challenge that is not bare (section 3.1: the request carried no
// credentials), the error code and description. The device server's
// adapters (OAuth2 access keys, device identities) answer with it.
func Challenge(scheme, code, description string, bare bool) string {
	if scheme == "" {
		scheme = "Bearer"
	}
	v := scheme + ` realm="authgate"`
	if scheme == "Bearer" && !bare {
		v += `, error="` + code + `"`
		if description != "" {
			v += `, error_description="` + quoteSafe(description) + `"`
		}
	}
	return v
}

// quoteSafe keeps a description inside a quoted-string (RFC 6750 limits it
// to printable ASCII without '"' and '\').
func quoteSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
