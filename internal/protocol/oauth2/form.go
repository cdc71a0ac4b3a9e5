package oauth2

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Form is a parsed application/x-www-form-urlencoded body in which every
// parameter occurs at most once (RFC 6749 section 3.2).
type Form map[string]string

func (f Form) get(name string) string { return f[name] }

// grantType is grant_type folded to lower case: RFC 6749 names are lower
// case, but the device server accepted any case ("PASSWORD") and its
// clients send it so.
func (f Form) grantType() string { return strings.ToLower(f["grant_type"]) }

// MaxParamLen bounds any single parameter; keys, secrets and tokens are far shorter.
const MaxParamLen = 4096

// readForm reads and parses the request body of a token, introspection or
// revocation request. Errors are *Error values ready to send.
func readForm(w http.ResponseWriter, r *http.Request, max int64) (Form, *Error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, "application/x-www-form-urlencoded") {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: codeInvalidRequest,
			Description: "Content-Type must be application/x-www-form-urlencoded"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, errInvalidRequest("form body must be UTF-8")
	}
	body, err := httpapi.ReadBody(w, r, max)
	switch st, ok := httpapi.BodyStatus(err); {
	case st == http.StatusRequestEntityTooLarge:
		return nil, errBodyTooLarge
	case st == http.StatusRequestTimeout:
		return nil, &Error{Status: st, Code: codeInvalidRequest, Description: core.ReasonOf(err)}
	case ok:
		return nil, errInvalidRequest("request body could not be read")
	}
	f, perr := ParseForm(string(body))
	if perr != nil {
		return nil, perr
	}
	return f, nil
}

var errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest, Description: "request body too large"}

// ParseForm parses a form body strictly: malformed escapes, repeated
// parameters and oversized values are invalid_request. Empty values count
// as absent (RFC 6749 section 3.1).
func ParseForm(body string) (Form, *Error) {
	f := Form{}
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, errInvalidRequest("malformed form body")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errInvalidRequest("malformed form body")
		}
		if key == "" || len(key) > 64 || len(val) > MaxParamLen {
			return nil, errInvalidRequest("malformed form body")
		}
		if _, dup := f[key]; dup {
			return nil, errInvalidRequest("parameter " + safeName(key) + " is repeated")
		}
		if val == "" {
			// Remember the name so a later repeat is still caught.
			f[key] = ""
			continue
		}
		f[key] = val
	}
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	return f, nil
}

// safeName returns a parameter name fit to echo in an error description.
func safeName(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "(name)"
		}
	}
	return s
}

// ClientCredentials are client credentials from HTTP Basic or the form body
// (RFC 6749 section 2.3.1).
type ClientCredentials struct {
	ID, Secret string
	Basic      bool // came in the Authorization header
}

// ParseClientAuth extracts client credentials. ok is false when the
// request carries none. An empty Basic pair (what golang.org/x/oauth2 sends
// for a client without id) counts as none. Credentials in both places are
// refused, as RFC 6749 allows only one method per request.
func ParseClientAuth(r *http.Request, f Form) (c ClientCredentials, ok bool, e *Error) {
	formID, formSecret := f.get("client_id"), f.get("client_secret")
	h := r.Header.Get("Authorization")
	if h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Basic") {
			id, secret, err := decodeBasic(strings.TrimSpace(rest))
			if err != nil {
				return c, false, &Error{Status: http.StatusUnauthorized, Code: codeInvalidClient, Description: "malformed Basic credentials", Challenge: "Basic"}
			}
			if id != "" || secret != "" {
				if formSecret != "" {
					return c, false, errInvalidRequest("client credentials must be sent in one place only")
				}
				if formID != "" && formID != id {
					return c, false, errInvalidRequest("client_id does not match the Authorization header")
				}
				return ClientCredentials{ID: id, Secret: secret, Basic: true}, true, nil
			}
		}
	}
	if formID != "" || formSecret != "" {
		if formID == "" || formSecret == "" {
			return c, false, &Error{Status: http.StatusUnauthorized, Code: codeInvalidClient, Description: "client_id and client_secret are both required", Challenge: "Basic"}
		}
		return ClientCredentials{ID: formID, Secret: formSecret}, true, nil
	}
	return c, false, nil
}

// decodeBasic decodes RFC 7617 credentials whose parts are form-encoded
// as RFC 6749 section 2.3.1 requires.
func decodeBasic(token68 string) (id, secret string, err error) {
	if len(token68) > 4*MaxParamLen {
		return "", "", errors.New("too long")
	}
	raw, err := base64.StdEncoding.DecodeString(token68)
	if err != nil {
		return "", "", err
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("no colon")
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", err
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// BearerToken returns the token of an "Authorization: Bearer" header
// (core.ParseBearer). present reports whether the request had a Bearer
// header at all.
func BearerToken(r *http.Request) (token string, present bool) {
	return core.ParseBearer(r.Header.Get("Authorization"))
}

// IsToken68 checks the RFC 7235 token68 syntax (core.IsToken68).
func IsToken68(s string) bool { return core.IsToken68(s) }
