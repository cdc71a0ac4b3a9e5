package gateway

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/core"
)

// CheckPath is the forward-auth endpoint on the main listener. Envoy's
// ext_authz HTTP service (path_prefix: /gateway/check) appends the
// original path to it.
const CheckPath = "/gateway/check"

// Front names how a front end described the original request.
type Front string

const (
	// FrontOriginal: nginx auth_request (X-Original-URI, X-Original-Method,
	// the original Host).
	FrontOriginal Front = "x-original"
	// FrontForwarded: Traefik forwardAuth, Caddy forward_auth
	// (X-Forwarded-Method/-Uri/-Host/-Proto).
	FrontForwarded Front = "x-forwarded"
	// FrontPathPrefix: Envoy ext_authz HTTP (the original path after
	// CheckPath, the original method and headers, the body when
	// with_request_body is on).
	FrontPathPrefix Front = "path-prefix"
)

// Described is the original request a front end asks about.
type Described struct {
	// Request is the original request rebuilt: method, URL (path, raw
	// query, scheme, host), Host, headers without the front end's
	// describing and hop-by-hop headers, ContentLength as described; Body
	// is empty (the caller attaches a forwarded body).
	Request *http.Request
	Front   Front
	// BodyForwarded is true when the check request's body IS the whole
	// original body (Envoy with_request_body that did not cut it).
	BodyForwarded bool
}

// Limits of a description (a real URI or method is far shorter).
const (
	maxDescribedURI    = 8 << 10
	maxDescribedMethod = 32
)

// envoyPartialBody is the header Envoy adds to the check request when
// with_request_body is on: "false" when the body it sends is whole.
const envoyPartialBody = "X-Envoy-Auth-Partial-Body"

// describing are the headers front ends add to describe the original
// request; they were not part of it, so no scheme sees them.
var describing = []string{"X-Original-Uri", "X-Original-Method", "X-Forwarded-Method", "X-Forwarded-Uri",
	"X-Forwarded-Host", "X-Forwarded-Proto", HeaderOriginalLength}

// HeaderOriginalLength is how a front end states the original request's
// body length, which the check request's own framing cannot carry: a
// decimal length, or "unknown" (a chunked body, or HTTP/2 without
// Content-Length). The schemes decide from it whether a request may have
// a body they would have to check.
const HeaderOriginalLength = "X-Original-Content-Length"

// hopByHop are the connection's headers (RFC 9110 section 7.6.1), not the
// original request's.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// notOriginal are the check request's headers that were not the original
// request's (canonical names): the connection's (hop-by-hop), the
// describing ones, and the check request's own Content-Length (it has no
// body, or Envoy's copy of it, whose length the caller sets).
var notOriginal = func() map[string]bool {
	m := map[string]bool{"Content-Length": true}
	for _, name := range append(append([]string{}, hopByHop...), describing...) {
		m[http.CanonicalHeaderKey(name)] = true
	}
	return m
}()

// originalHeader copies h without the headers that were not the original
// request's: notOriginal, the ones its Connection header names, and
// Envoy's X-Envoy-*. One map sized to what is kept; the values are h's
// own slices, capacity clipped (an append to one copies it instead of
// writing into h's), which nothing changes once the check request is read.
// A header named X-Authgate-* refuses the whole request
// (ErrSpoofedIdentity), found by the same pass over h that sizes the copy.
func originalHeader(h http.Header) (http.Header, error) {
	var listed []string // Connection: the names it makes hop-by-hop
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				listed = append(listed, http.CanonicalHeaderKey(f))
			}
		}
	}
	keep := func(name string) bool {
		return !notOriginal[name] && !strings.HasPrefix(name, "X-Envoy-") && !slices.Contains(listed, name)
	}
	n := 0
	for name := range h {
		if len(name) >= len(HeaderPrefix) && strings.EqualFold(name[:len(HeaderPrefix)], HeaderPrefix) {
			return nil, ErrSpoofedIdentity
		}
		if keep(name) {
			n++
		}
	}
	out := make(http.Header, n)
	for name, v := range h {
		if keep(name) {
			out[name] = v[:len(v):len(v)]
		}
	}
	return out, nil
}

// originalForm reports whether a check request is in nginx's form (a
// non-empty X-Original-URI), whether or not it describes a request that
// can be believed.
func originalForm(h http.Header) bool {
	v := h["X-Original-Uri"]
	return len(v) > 0 && v[0] != ""
}

// errDescribe is the refusal of a check request that describes no original
// request, or describes it in a way that cannot be believed.
func errDescribe(msg string) error { return core.E(core.KindInvalidInput, "forward-auth: "+msg) }

// ErrSpoofedIdentity is the refusal of a described request that carries
// X-Authgate-* headers: only authgate sets them, and a front end that
// cannot strip them (nginx cannot remove headers by prefix) would pass
// the client's copies to the upstream beside authgate's answer.
var ErrSpoofedIdentity = core.E(core.KindInvalidInput, "forward-auth: the request carries X-Authgate-* headers, which only authgate sets")

// DescribeOriginal rebuilds the original request from r, a check request
// that reached CheckPath (or below it) from a trusted proxy. The caller
// checks the peer first: from anyone else these headers are the client's
// own words. Every describing header must appear once; the method must be
// an HTTP token; the URI must be origin-form with a canonical path (no dot
// segments, empty segments or encoded slashes, which the front end and
// the upstream may resolve to another route than the one matched here).
func DescribeOriginal(r *http.Request) (Described, error) {
	h := r.Header
	// First: a request carrying X-Authgate-* is refused before anything
	// else is read from it.
	header, err := originalHeader(h)
	if err != nil {
		return Described{}, err
	}
	uri, err := agreed(h, "X-Original-Uri", "X-Forwarded-Uri")
	if err != nil {
		return Described{}, err
	}
	d := Described{}
	var method, host string
	switch {
	case uri != "":
		// nginx and Traefik/Caddy: the check request's own path is the
		// endpoint (Caddy appends the original query to it: ignored).
		if r.URL.Path != CheckPath {
			return Described{}, errDescribe("a check request naming the original URI in a header must go to " + CheckPath)
		}
		if method, err = agreed(h, "X-Original-Method", "X-Forwarded-Method"); err != nil {
			return Described{}, err
		}
		if method == "" {
			return Described{}, errDescribe("X-Original-URI / X-Forwarded-Uri without X-Original-Method / X-Forwarded-Method")
		}
		d.Front = FrontForwarded
		if originalForm(h) {
			d.Front = FrontOriginal
		}
	case strings.HasPrefix(r.RequestURI, CheckPath+"/"):
		// Envoy: the original path and query follow the prefix, raw.
		uri = r.RequestURI[len(CheckPath):]
		method = r.Method
		d.Front = FrontPathPrefix
		if v := h[envoyPartialBody]; len(v) == 1 && v[0] == "false" {
			d.BodyForwarded = true
		}
	default:
		return Described{}, errDescribe("the check request describes no original request (X-Original-URI, X-Forwarded-Uri, or a path below " + CheckPath + ")")
	}
	if !validMethod(method) {
		return Described{}, errDescribe("the original method is not an HTTP method token")
	}
	u, err := parseOriginURI(uri)
	if err != nil {
		return Described{}, err
	}
	if host, err = one(h, "X-Forwarded-Host"); err != nil {
		return Described{}, err
	}
	if host == "" {
		host = r.Host
	}
	if !validAuthority(host) {
		return Described{}, errDescribe("the original Host is missing or not a host[:port]")
	}
	proto, err := one(h, "X-Forwarded-Proto")
	if err != nil {
		return Described{}, err
	}
	switch strings.ToLower(proto) {
	case "":
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	case "http", "https":
		proto = strings.ToLower(proto)
	default:
		return Described{}, errDescribe("X-Forwarded-Proto is neither http nor https")
	}
	u.Scheme, u.Host = proto, host
	length, err := originalLength(h, d.Front)
	if err != nil {
		return Described{}, err
	}

	out := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         r.Proto,
		ProtoMajor:    r.ProtoMajor,
		ProtoMinor:    r.ProtoMinor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: length,
		Host:          host,
		RemoteAddr:    r.RemoteAddr,
		RequestURI:    uri,
	}
	if proto == "https" {
		// The front end says the client used TLS; its certificates are
		// not known here (a certificate-bound credential is refused).
		out.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	d.Request = out.WithContext(r.Context())
	return d, nil
}

// originalLength is the original body's length as the front end states
// it in HeaderOriginalLength (-1: unknown). Without that header, the
// header-style front ends (nginx, Traefik, Caddy) declared no body: a
// body-carrying method (POST, PUT, PATCH) still needs its body for the
// schemes that sign it, whatever the length says. Envoy's check request
// carries the body, or nothing, so there it is unknown.
func originalLength(h http.Header, front Front) (int64, error) {
	v, err := one(h, HeaderOriginalLength)
	switch {
	case err != nil:
		return 0, err
	case v == "" && front == FrontPathPrefix:
		return -1, nil
	case v == "":
		return 0, nil
	case v == "unknown":
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || v[0] == '+' {
		return 0, errDescribe(HeaderOriginalLength + " is neither a length nor \"unknown\"")
	}
	return n, nil
}

// one returns the only value of header name ("" when absent); several
// values are refused (a front end and a client each adding one). name is
// canonical (every caller passes a constant): the map is read directly,
// without canonicalising the name again on every check.
func one(h http.Header, name string) (string, error) {
	v := h[name]
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(v[0]), nil
	}
	return "", errDescribe(name + " appears more than once")
}

// agreed returns the value of the nginx-style header a or the
// forward-auth-style header b; when both are present they must agree.
func agreed(h http.Header, a, b string) (string, error) {
	va, err := one(h, a)
	if err != nil {
		return "", err
	}
	vb, err := one(h, b)
	if err != nil {
		return "", err
	}
	if va != "" && vb != "" && va != vb {
		return "", errDescribe(a + " and " + b + " disagree")
	}
	if va != "" {
		return va, nil
	}
	return vb, nil
}

// parseOriginURI parses an origin-form request target (path and query)
// whose path is canonical.
func parseOriginURI(uri string) (*url.URL, error) {
	if len(uri) > maxDescribedURI {
		return nil, errDescribe("the original URI is too long")
	}
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		return nil, errDescribe("the original URI is not a path (origin-form)")
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c >= 0x7f || c == '#' || c == '\\' {
			return nil, errDescribe("the original URI holds a space, control, '#', '\\' or non-ASCII byte")
		}
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, errDescribe("the original URI does not parse")
	}
	if raw := u.EscapedPath(); strings.IndexByte(raw, '%') >= 0 { // only an escape can encode them
		raw = strings.ToLower(raw)
		if strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%00") {
			return nil, errDescribe("the original path holds an encoded '/', '\\' or NUL")
		}
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if clean != u.Path {
		return nil, errDescribe("the original path is not canonical (dot segments or empty segments)")
	}
	return u, nil
}

// validMethod: an RFC 9110 token, bounded.
func validMethod(m string) bool {
	if m == "" || len(m) > maxDescribedMethod {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validAuthority accepts host or host:port (registered name, IPv4, or a
// bracketed IPv6 literal) without user info.
func validAuthority(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}
