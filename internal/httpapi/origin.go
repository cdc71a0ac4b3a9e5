package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
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
}

// NewOrigin validates the configured public URL ("" for none) and the
// allowed hosts (host or host:port; compared case-insensitively). addr
// decides the scheme when there is no public URL (TLS, or
// X-Forwarded-Proto from a trusted proxy).
func NewOrigin(publicURL string, allowedHosts []string, addr ClientAddr) (Origin, error) {
	o := Origin{addr: addr, allowed: map[string]struct{}{}}
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
func LocalOrigin(addr ClientAddr) Origin { return Origin{addr: addr} }

// Public reports whether a public URL is configured.
func (o Origin) Public() bool { return o.public != nil }

// Base returns the absolute base URL for r, without a trailing slash.
func (o Origin) Base(r *http.Request) string {
	if o.public != nil {
		return o.publicBase
	}
	scheme := "http"
	if o.addr.Secure(r) {
		scheme = "https"
	}
	return scheme + "://" + o.Host(r)
}

// Host returns the host[:port] links for r may name: the request's Host
// when it is allowed or is the local address, else the local address.
func (o Origin) Host(r *http.Request) string {
	host := strings.ToLower(r.Host)
	if _, ok := o.allowed[host]; ok && validHost(host) {
		return host
	}
	local := localHost(r)
	if host != "" && (host == local || loopbackName(host, local)) {
		return host
	}
	if local == "" {
		return "localhost"
	}
	return local
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
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		// What the general path below makes of a TCP address, in one
		// formatting (netip prints lower case, IPv6 bracketed, no zone).
		if ip, ok := netip.AddrFromSlice(ta.IP); ok && ta.Port >= 0 && ta.Port <= 65535 {
			return netip.AddrPortFrom(ip.Unmap(), uint16(ta.Port)).String()
		}
	}
	return localHostOf(a)
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
