package httpapi

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The device server (the OAuth2 access keys and the device identities of
// family 1, two adapters) names its representations
// application/vnd.imgtec.<type>+json; its documentation also shows
// application/vnd.imgtec.com.<type>+json. Both spellings and plain
// application/json are accepted on requests, and responses use the
// spelling the client asked for in Accept. One rule for both adapters.
const vndPrefix = "application/vnd.imgtec."

// Vnd is the device-server media type of <type>.
func Vnd(typ string) string { return vndPrefix + typ + "+json" }

// vndType returns <type> of a device-server media type ("" if mt is not one).
func vndType(mt string) string {
	mt = strings.ToLower(mt)
	if !strings.HasPrefix(mt, vndPrefix) || !strings.HasSuffix(mt, "+json") {
		return ""
	}
	t := strings.TrimSuffix(strings.TrimPrefix(mt, vndPrefix), "+json")
	return strings.TrimPrefix(t, "com.")
}

// NegotiateVnd picks the response media type among the device-server types
// (first is the default): the vnd type the client asked for in Accept (in
// its spelling), else application/json if the client asked for that and
// no vnd type, else the default vnd type.
func NegotiateVnd(r *http.Request, types ...string) string {
	wantJSON := false
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["q"] == "0" {
				continue
			}
			if t := vndType(mt); t != "" {
				for _, offered := range types {
					if t == offered {
						return strings.ToLower(mt)
					}
				}
			}
			if strings.EqualFold(mt, "application/json") {
				wantJSON = true
			}
		}
	}
	if wantJSON {
		return "application/json"
	}
	return Vnd(types[0])
}

// AcceptsVndBody reports whether the request body's Content-Type is JSON
// in one of the accepted spellings.
func AcceptsVndBody(r *http.Request, types ...string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	if strings.EqualFold(mt, "application/json") {
		return true
	}
	t := vndType(mt)
	for _, offered := range types {
		if t != "" && t == offered {
			return true
		}
	}
	return false
}

// Paging reads the device server's paging parameters, startIndex (0 or
// more, default 0) and pageSize (1..max, default def); reason says what is
// wrong with them, "" when they are fine.
func Paging(q url.Values, def, max int) (start, size int, reason string) {
	start, size = 0, def
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, "startIndex must be a non-negative integer"
		}
		start = n
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return 0, 0, "pageSize must be between 1 and " + strconv.Itoa(max)
		}
		size = n
	}
	return start, size, ""
}
