package httpapi

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Limits bound what one client address can hold of a listener and how
// long a request may take to arrive, so that slow or numerous connections
// from one address cannot take every other client's share. NewHandler
// applies the in-flight cap and the body deadline, Server the connection
// cap and the header deadline. Zero fields are off, except
// ReadHeaderTimeout (default 5 s).
type Limits struct {
	// ClientAddr derives the client address the in-flight cap counts per
	// (behind trusted proxies, the forwarded client); its Trusted proxies
	// are exempt from the connection cap, which counts direct peers.
	ClientAddr ClientAddr
	// MaxConnsPerAddr caps open connections per peer address (IPv6: per
	// /64), counted at Accept, before any TLS handshake; beyond it new
	// connections are closed at once.
	MaxConnsPerAddr int
	// MaxInFlightPerAddr caps requests in flight per client address (IPv6:
	// per /64); beyond it requests are answered 503 with Retry-After
	// without taking one of the listener's max_in_flight slots.
	MaxInFlightPerAddr int
	// ReadHeaderTimeout bounds the TLS handshake and the request headers.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds reading a request body, from the moment the
	// handler starts: a body still arriving then fails with a timeout and
	// the connection is closed.
	BodyReadTimeout time.Duration
}

// --- connections per peer address ---

// limitListener caps open connections per peer address.
type limitListener struct {
	net.Listener
	max     int
	exempt  ClientAddr
	refused func()
	mu      sync.Mutex
	open    map[string]int
}

// LimitListener wraps ln so that at most max connections per peer address
// (IPv6: per /64) are open at once; peers in exempt.Trusted are not
// counted. Connections over the cap are closed as soon as accepted and
// refused (if set) is called. max <= 0 returns ln unchanged.
func LimitListener(ln net.Listener, max int, exempt ClientAddr, refused func()) net.Listener {
	if max <= 0 {
		return ln
	}
	if refused == nil {
		refused = func() {}
	}
	return &limitListener{Listener: ln, max: max, exempt: exempt, refused: refused, open: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a, ok := tcpAddr(c.RemoteAddr())
		if !ok || l.exempt.trusted(a) {
			return c, nil
		}
		key := core.AddressKey(a.String())
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			_ = c.Close()
			l.refused()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *limitListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

func tcpAddr(a net.Addr) (netip.Addr, bool) {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(ta.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// --- requests in flight per client address ---

func shedPerAddr(next http.Handler, max int, addr ClientAddr, m *metrics, errs ErrorWriter) http.Handler {
	if max <= 0 {
		return next
	}
	var mu sync.Mutex
	inFlight := map[inFlightKey]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := inFlightKeyOf(addr, r)
		mu.Lock()
		if inFlight[key] >= max {
			mu.Unlock()
			m.shedAddr.Inc()
			closeIfBody(w, r)
			err := &core.Error{Kind: core.KindUnavailable, Reason: "too many requests in flight from this address, retry later", RetryAfter: UnavailableRetryAfter}
			SetRetryAfter(w, err)
			errs(w, r, http.StatusServiceUnavailable, err)
			return
		}
		inFlight[key]++
		mu.Unlock()
		defer func() {
			mu.Lock()
			if inFlight[key]--; inFlight[key] <= 0 {
				delete(inFlight, key)
			}
			mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// inFlightKey is core.AddressKey's grouping without formatting: an IPv4
// address, an IPv6 address's /64, or (a peer that is no address) the key
// of the raw RemoteAddr.
type inFlightKey struct {
	addr netip.Addr
	raw  string
}

func inFlightKeyOf(c ClientAddr, r *http.Request) inFlightKey {
	a := c.Addr(r)
	switch {
	case !a.IsValid():
		return inFlightKey{raw: core.AddressKey(r.RemoteAddr)}
	case a.Is4():
		return inFlightKey{addr: a}
	}
	p, _ := a.WithZone("").Prefix(64)
	return inFlightKey{addr: p.Addr()}
}

// closeIfBody marks the connection of a refused request with a body to be
// closed after the answer: otherwise the server would first read up to
// 256 KiB of the unread body to keep the connection, at the sender's pace.
func closeIfBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// --- body read deadline ---

// bodyDeadline gives a request with a body d to arrive in whole: the
// connection's read deadline is set when the handler starts and cleared
// once the body is read to its end, so a handler that works longer than d
// after reading is not cut off.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			// HTTP/2 and test recorders do not support deadlines: the
			// server's ReadTimeout still bounds them.
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
