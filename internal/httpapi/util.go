package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authgate/authgate/internal/core"
)

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	WriteJSONType(w, status, "application/json", v)
}

// WriteJSONType writes v as JSON with an explicit media type.
func WriteJSONType(w http.ResponseWriter, status int, mediaType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// MediaType returns the media type of the request's Content-Type without parameters.
func MediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// DecodeJSON decodes the body into v, rejecting unknown trailing data.
// The body size is already bounded by the chain; errors are typed
// KindInvalidInput with a caller-safe reason, a body too large or too
// slow with ReadBody's causes (ErrBodyTooLarge, ErrBodyTimeout).
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return core.Wrap(core.KindInvalidInput, "request body too large", ErrBodyTooLarge)
		case isTimeout(err):
			return core.Wrap(core.KindInvalidInput, "request body not received in time", ErrBodyTimeout)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return core.E(core.KindInvalidInput, field+" must be of type "+te.Type.String())
		default: // syntax errors, empty or truncated bodies
			return core.E(core.KindInvalidInput, "request body is not valid JSON")
		}
	}
	if dec.More() {
		return core.E(core.KindInvalidInput, "request body has trailing data")
	}
	return nil
}

// ClientAddr resolves the caller's address. X-Forwarded-For is honoured
// only when the direct peer is one of the trusted proxies.
type ClientAddr struct {
	Trusted []netip.Prefix
}

// ParsePrefixes parses CIDRs or single addresses.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c ClientAddr) trusted(a netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// peer returns the address of the direct peer.
func peer(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// IP returns the client's address as a string (the peer's RemoteAddr as
// it is when that is not an address).
func (c ClientAddr) IP(r *http.Request) string {
	a, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	return c.resolve(r, a).String()
}

// Addr is IP as a netip.Addr, without formatting it (the zero Addr when
// the peer's RemoteAddr is not an address).
func (c ClientAddr) Addr(r *http.Request) netip.Addr {
	a, ok := peer(r)
	if !ok {
		return netip.Addr{}
	}
	return c.resolve(r, a)
}

// resolve walks X-Forwarded-For from the right, skipping our own proxies,
// when the direct peer a is one of them; the first address that is not
// ours is the client (a itself when the header holds none).
func (c ClientAddr) resolve(r *http.Request, a netip.Addr) netip.Addr {
	if !c.trusted(a) {
		return a
	}
	// The values in order, each a comma-separated list: walked from the
	// last entry of the last value without joining or splitting them.
	vals := r.Header.Values("X-Forwarded-For")
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for {
			j := strings.LastIndexByte(v, ',')
			h, err := netip.ParseAddr(strings.TrimSpace(v[j+1:]))
			if err != nil {
				return a
			}
			if !c.trusted(h) {
				return h.Unmap()
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return a
}

// TrustedPeer reports whether r's direct peer is a trusted proxy, whose
// X-Forwarded-* headers are believed.
func (c ClientAddr) TrustedPeer(r *http.Request) bool {
	a, ok := peer(r)
	return ok && c.trusted(a)
}

// Secure reports whether the request reached authgate over TLS, directly
// or through a trusted proxy that says so in X-Forwarded-Proto.
func (c ClientAddr) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	a, ok := peer(r)
	return ok && c.trusted(a) && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}
