package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
)

// Origin computes the absolute base (scheme://host[:port]) of the links,
// Location headers, discovery documents and token issuers authgate
// mints. The Host header is the client's to choose, so it is believed
// only when it names this server: the configured public URL wins; else a
// Host listed in AllowedHosts, or equal to the address the connection
// arrived on (or localhost with its port, on a loopback address), is used;
// else the base is that local address. A request
// with Host: evil.example therefore never yields an evil.example link or
// issuer. The zero value believes no Host but the local address.
type Origin struct {
	public     *url.URL
	publicBase string // public.String(), formatted once
	allowed    map[string]struct{}
	addr       ClientAddr
	bases      *originBases // nil (LocalOrigin, the zero value): every base is formatted per request
}

// originBases remembers the bases Base formatted for hosts of bounded
// sets (an allowed host, the address a connection arrived on), so a
// request allocates nothing for its base. A localhost name (any
// *.localhost with the port) is the client's choice and never
// remembered; past maxOriginBases nothing more is.
type originBases struct {
	mu     sync.RWMutex
	byHost [2]map[string]string // [secure] key (see put) -> base
}

const maxOriginBases = 256

func newOriginBases() *originBases {
	return &originBases{byHost: [2]map[string]string{{}, {}}}
}

// get looks up the base of host, or with host "" of the local address.
func (b *originBases) get(secure bool, host string, local []byte) (base string, ok bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	m := b.byHost[b2i(secure)]
	if host != "" {
		base, ok = m[host]
	} else {
		base, ok = m[string(local)] // a lookup by the bytes copies nothing
	}
	return base, ok
}

// put remembers base under key: the request's Host when that is the
// answer, the local address when that is ("" when unknown).
func (b *originBases) put(secure bool, key, base string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.byHost[b2i(secure)]; len(m) < maxOriginBases {
		m[key] = base
	}
}

func (b *originBases) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.byHost[0]) + len(b.byHost[1])
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// NewOrigin validates the configured public URL ("" for none) and the
// allowed hosts (host or host:port; compared case-insensitively). addr
// decides the scheme when there is no public URL (TLS, or
// X-Forwarded-Proto from a trusted proxy).
func NewOrigin(publicURL string, allowedHosts []string, addr ClientAddr) (Origin, error) {
	o := Origin{addr: addr, allowed: map[string]struct{}{}, bases: newOriginBases()}
	if publicURL != "" {
		u, err := url.Parse(strings.TrimRight(publicURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return Origin{}, errors.New("public_url must be an absolute http(s) URL without user, query or fragment")
		}
		o.public, o.publicBase = u, u.String()
	}
	for _, h := range allowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || !validHost(h) {
			return Origin{}, errors.New("allowed_hosts: " + h + " is not a host or host:port")
		}
		o.allowed[h] = struct{}{}
	}
	return o, nil
}

// LocalOrigin is an Origin without a public URL or allowed hosts: links
// name the address each request arrived on.
// Built per request where that is simpler, it remembers no bases.
func LocalOrigin(addr ClientAddr) Origin { return Origin{addr: addr} }

// Public reports whether a public URL is configured.
func (o Origin) Public() bool { return o.public != nil }

// Base returns the absolute base URL for r, without a trailing slash.
func (o Origin) Base(r *http.Request) string {
	if o.public != nil {
		return o.publicBase
	}
	secure := o.addr.Secure(r)
	var buf [64]byte
	host, local, chosen := o.host(r, buf[:0])
	remember := !chosen && o.bases != nil
	if remember {
		if base, ok := o.bases.get(secure, host, local); ok {
			return base
		}
	}
	answer := hostOrLocal(host, local)
	scheme := "http"
	if secure {
		scheme = "https"
	}
	base := scheme + "://" + answer
	if remember {
		key := host
		if host == "" {
			key = string(local)
		}
		o.bases.put(secure, key, base)
	}
	return base
}

// Host returns the host[:port] links for r may name: the request's Host
// when it is allowed or is the local address, else the local address.
func (o Origin) Host(r *http.Request) string {
	var buf [64]byte
	host, local, _ := o.host(r, buf[:0])
	return hostOrLocal(host, local)
}

// host decides Host(r) with the local address appended to buf: host is
// the request's Host (lower case) when that is the answer, "" when the
// local address is (local; "localhost" when unknown). chosen reports a
// localhost name the client chose (loopbackName), an unbounded set.
func (o Origin) host(r *http.Request, buf []byte) (host string, local []byte, chosen bool) {
	host = strings.ToLower(r.Host)
	if _, ok := o.allowed[host]; ok && validHost(host) {
		return host, nil, false
	}
	local = appendLocalHost(buf, r)
	if host != "" && host == string(local) { // compared without a copy
		return host, local, false
	}
	if strings.IndexByte(host, ':') >= 0 && loopbackName(host, string(local)) { // (without a port it is none: no copy)
		return host, local, true
	}
	return "", local, false
}

func hostOrLocal(host string, local []byte) string {
	switch {
	case host != "":
		return host
	case len(local) == 0:
		return "localhost"
	}
	return string(local)
}

// loopbackName reports whether host is "localhost" with the port of a
// connection that arrived on a loopback address: the name a newcomer types
// for 127.0.0.1 or [::1], which can only reach this machine (a client that
// signs its URL, as Apstrata's do, signs the name it typed).
func loopbackName(host, local string) bool {
	if strings.IndexByte(host, ':') < 0 { // no port (SplitHostPort would fail, allocating its error)
		return false
	}
	lh, lport, err := net.SplitHostPort(local)
	if err != nil {
		return false
	}
	ip := net.ParseIP(lh)
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	h, port, err := net.SplitHostPort(host)
	return err == nil && validHost(host) && port == lport && (h == "localhost" || strings.HasSuffix(h, ".localhost"))
}

// localHost is the address the request's connection arrived on, as
// host:port (IPv6 bracketed), or "" when unknown.
func localHost(r *http.Request) string {
	return string(appendLocalHost(nil, r))
}

// appendLocalHost appends localHost(r) to b.
func appendLocalHost(b []byte, r *http.Request) []byte {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || a == nil {
		return b
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		// What the general path below makes of a TCP address, in one
		// formatting (netip prints lower case, IPv6 bracketed, no zone).
		if ip, ok := netip.AddrFromSlice(ta.IP); ok && ta.Port >= 0 && ta.Port <= 65535 {
			return netip.AddrPortFrom(ip.Unmap(), uint16(ta.Port)).AppendTo(b)
		}
	}
	return append(b, localHostOf(a)...)
}

// localHostOf is localHost for any net.Addr.
func localHostOf(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(host, '%'); i >= 0 { // no zone in a URL
		host = host[:i]
	}
	return strings.ToLower(net.JoinHostPort(host, port))
}

// validHost accepts host or host:port made of the characters a URL
// authority may hold without escaping.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
