package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// net/http accepts a bare LF as the end of a request line or header line.
// A proxy in front that splits lines on CRLF only sees one request where
// authgate sees two (or other headers), the start of request smuggling.
// strictListener refuses such requests on the raw bytes of every HTTP/1
// request head, before net/http parses them: net/http is given a request
// line it answers with 400 Bad Request, and the connection is closed.
//
// It follows each request's body framing (Content-Length, chunked) to find
// the next head on a kept-alive connection. When framing is something
// net/http refuses anyway (conflicting lengths, unknown codings, an
// upgrade), checking stops for that connection; net/http closes it.
//
// On TLS listeners the handshake is done here (in its own goroutine, under
// the header deadline), so the check sits on the decrypted bytes: h2
// connections (ALPN) are handed to net/http as the *tls.Conn they are and
// bypass the HTTP/1 check; HTTP/1 connections are wrapped, and their TLS
// state is put back on each request (r.TLS) by withTLSState.
type strictListener struct {
	net.Listener
	tls     *tls.Config
	timeout time.Duration // handshake deadline
	log     *slog.Logger

	once  sync.Once
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
}

var errBareLF = errors.New("request head line ends in a bare LF")

// refusal replaces a refused head in what net/http reads: a request line
// it rejects with 400 Bad Request and Connection: close. net/http has no
// hook to refuse a request from below; a read error instead would close
// a kept-alive connection without an answer once its background read
// (run while the previous request is served) sees it.
const refusal = "BARE-LF-REFUSED\r\n\r\n"

// maxHeadScan bounds the head bytes kept to read its framing (net/http
// refuses heads over MaxHeaderBytes itself).
const maxHeadScan = 64<<10 + 4096

func newStrictListener(ln net.Listener, cfg *tls.Config, handshake time.Duration, log *slog.Logger) *strictListener {
	return &strictListener{Listener: ln, tls: cfg, timeout: handshake, log: log,
		conns: make(chan net.Conn), errs: make(chan error, 1), done: make(chan struct{})}
}

// Accept returns the next connection ready for net/http.
func (l *strictListener) Accept() (net.Conn, error) {
	if l.tls == nil {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		return &headConn{Conn: c}, nil
	}
	l.once.Do(func() { go l.acceptTLS() })
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *strictListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return l.Listener.Close()
}

func (l *strictListener) acceptTLS() {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			select {
			case l.errs <- err:
			case <-l.done:
			}
			return
		}
		go l.handshake(raw)
	}
}

func (l *strictListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.tls)
	_ = raw.SetDeadline(time.Now().Add(l.timeout))
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.log.Debug("tls handshake failed", slog.String("remote", raw.RemoteAddr().String()), slog.Any("err", err))
		_ = tc.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	var c net.Conn = tc
	if st := tc.ConnectionState(); st.NegotiatedProtocol != "h2" {
		c = &headConn{Conn: tc, tlsState: &st}
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

type tlsStateKey struct{}

// connContext carries a wrapped TLS connection's state to its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*headConn); ok && hc.tlsState != nil {
		return context.WithValue(ctx, tlsStateKey{}, hc.tlsState)
	}
	return ctx
}

// withTLSState sets r.TLS for requests on TLS connections net/http saw
// only through headConn.
func withTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r2 := *r
				r2.TLS = st
				r = &r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headConn checks the request heads in the bytes read from its Conn,
// and applies its deadlines lazily (lazyDeadline).
type headConn struct {
	net.Conn
	tlsState *tls.ConnectionState
	scan     headScanner
	refused  int // bytes of refusal already read
	rd, wd   lazyDeadline
}

// lazyDeadline is one direction of a connection's deadline, applied to
// the connection when a read or write starts rather than when it is set.
// net/http sets and clears a read or write deadline five or six times per
// request (ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout,
// its background read), each a runtime timer modification, and most are
// replaced before any read or write could see them. A read or write
// under way sees a new deadline at once, as net.Conn promises, so a
// deadline in the past still interrupts one; one that has passed when
// the next starts fails it at once, as if it had been applied when set
// (so setting a deadline reads no clock). A deadline that has only
// moved later, by at most 1/64 of the time left to it (the write deadline
// net/http renews on every request), is left as applied: it may expire
// that much early, never late.
type lazyDeadline struct {
	mu      sync.Mutex
	want    time.Time // the deadline last set
	applied time.Time // the connection's
	busy    int       // reads (or writes) under way
}

// stale reports whether the applied deadline must be replaced by want
// before an operation.
func (d *lazyDeadline) stale() bool {
	if d.want.Equal(d.applied) {
		return false
	}
	if d.want.IsZero() || d.applied.IsZero() || d.want.Before(d.applied) {
		return true
	}
	return d.want.Sub(d.applied) > time.Until(d.want)/64
}

// setDeadline records t for d and applies it at once when an operation
// is under way; otherwise the next operation applies it (begin).
func (c *headConn) setDeadline(d *lazyDeadline, read bool, t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = t
	if d.busy > 0 {
		return c.apply(d, read)
	}
	return nil
}

// begin marks an operation under way, the wanted deadline applied first.
func (c *headConn) begin(d *lazyDeadline, read bool) {
	d.mu.Lock()
	d.busy++
	if d.stale() {
		_ = c.apply(d, read) // a closed connection fails the operation itself
	}
	d.mu.Unlock()
}

func (d *lazyDeadline) end() {
	d.mu.Lock()
	d.busy--
	d.mu.Unlock()
}

// apply sets d.want on the connection; d.mu is held.
func (c *headConn) apply(d *lazyDeadline, read bool) error {
	var err error
	if read {
		err = c.Conn.SetReadDeadline(d.want)
	} else {
		err = c.Conn.SetWriteDeadline(d.want)
	}
	if err == nil {
		d.applied = d.want
	}
	return err
}

func (c *headConn) SetReadDeadline(t time.Time) error  { return c.setDeadline(&c.rd, true, t) }
func (c *headConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.wd, false, t) }

func (c *headConn) SetDeadline(t time.Time) error {
	rerr := c.SetReadDeadline(t)
	werr := c.SetWriteDeadline(t)
	return errors.Join(rerr, werr)
}

func (c *headConn) Write(p []byte) (int, error) {
	c.begin(&c.wd, false)
	defer c.wd.end()
	return c.Conn.Write(p)
}

func (c *headConn) Read(p []byte) (int, error) {
	if c.scan.err != nil {
		if c.refused == len(refusal) {
			return 0, io.EOF
		}
		n := copy(p, refusal[c.refused:])
		c.refused += n
		return n, nil
	}
	c.begin(&c.rd, true)
	n, err := c.Conn.Read(p)
	c.rd.end()
	if n > 0 && !c.scan.off {
		if valid, ferr := c.scan.feed(p[:n]); ferr != nil {
			// Requests complete before the bad head are still served,
			// then net/http reads the refusal instead of the head.
			if valid > 0 {
				return valid, nil
			}
			return c.Read(p)
		}
	}
	return n, err
}

// headScanner is a state machine over the request stream. Head bytes are
// taken a line at a time (IndexByte finds the LF, and only the byte before
// it decides whether the line end is CRLF); body and chunk bytes are
// skipped by length.
type headScanner struct {
	state   scanState
	head    []byte // the current head, up to maxHeadScan
	prevCR  bool
	lineLen int   // bytes on the current line, CR excluded
	left    int64 // body bytes (or chunk bytes) still to skip
	start   int   // where the current head starts in the bytes being fed
	off     bool  // framing unknown: stop checking this connection
	err     error
}

type scanState int

const (
	inHead      scanState = iota
	inBody                // Content-Length bytes
	inChunkSize           // a chunk-size line
	inChunkData           // chunk bytes, then CRLF
	inChunkEnd            // the CRLF after chunk data
	inTrailer             // trailer lines until an empty one
)

// feed scans b. On a bare LF in a head it returns the error and how many
// bytes of b precede that head (complete requests, still to be served).
func (s *headScanner) feed(b []byte) (int, error) {
	s.start = 0
	for i := 0; i < len(b) && !s.off; i++ {
		c := b[i]
		switch s.state {
		case inHead:
			// A head that starts here and ends within b (the common case)
			// is scanned in place, without keeping it.
			if len(s.head) == 0 && s.lineLen == 0 && !s.prevCR {
				if n := s.wholeHead(b[i:]); n > 0 {
					i += n - 1
					s.start = i + 1
					continue
				}
			}
			if c != '\n' {
				// The rest of the line (or of b): kept, counted without
				// its CRs; only its last byte can precede the LF.
				seg := b[i:]
				if j := bytes.IndexByte(seg, '\n'); j >= 0 {
					seg = seg[:j]
				}
				s.keepAll(seg)
				s.lineLen += len(seg) - bytes.Count(seg, cr)
				s.prevCR = seg[len(seg)-1] == '\r'
				i += len(seg) - 1
				continue
			}
			if !s.prevCR {
				s.err = errBareLF
				return s.start, s.err
			}
			if s.lineLen == 0 && len(s.head) > 1 { // CRLF CRLF: the head ends
				s.endHead()
				s.start = i + 1
			} else if s.lineLen == 0 { // an empty line before the request line
				s.head = s.head[:0]
			} else {
				s.lineLen = 0
				s.keep(c)
			}
			s.prevCR = false
		case inBody:
			skip := min(int64(len(b)-i), s.left)
			s.left -= skip
			i += int(skip) - 1
			if s.left == 0 {
				s.reset()
				s.start = i + 1
			}
		case inChunkSize, inTrailer:
			// net/http's chunked reader takes LF or CRLF here; so do we.
			if c != '\n' {
				s.prevCR = c == '\r'
				if s.lineLen++; s.lineLen > 4096 {
					s.off = true
				} else if s.state == inChunkSize {
					s.keep(c)
				}
				continue
			}
			if s.state == inTrailer {
				if s.lineLen == 0 || s.lineLen == 1 && s.prevCR {
					s.reset()
					s.start = i + 1
				} else {
					s.lineLen, s.prevCR = 0, false
				}
				continue
			}
			size, ok := chunkSize(s.head)
			s.head, s.lineLen = s.head[:0], 0
			switch {
			case !ok:
				s.off = true
			case size == 0:
				s.state = inTrailer
			default:
				s.state, s.left = inChunkData, size
			}
		case inChunkData:
			skip := min(int64(len(b)-i), s.left)
			s.left -= skip
			i += int(skip) - 1
			if s.left == 0 {
				s.state, s.left = inChunkEnd, 2
			}
		case inChunkEnd:
			if s.left--; s.left == 0 {
				s.state, s.lineLen = inChunkSize, 0
			}
		}
	}
	return 0, nil
}

func (s *headScanner) keep(c byte) {
	if len(s.head) < maxHeadScan {
		s.head = append(s.head, c)
	}
}

// keepAll is keep of every byte of b.
func (s *headScanner) keepAll(b []byte) {
	if room := maxHeadScan - len(s.head); room > 0 {
		s.head = append(s.head, b[:min(len(b), room)]...)
	}
}

var cr = []byte{'\r'}

func (s *headScanner) reset() {
	s.state, s.head, s.lineLen, s.prevCR, s.left = inHead, s.head[:0], 0, false, 0
}

// wholeHead takes the head at the start of b when it ends within b and
// has no bare LF: it reads its framing in place, in the same pass that
// finds its lines (as framing does with a kept head), and returns the
// bytes it took, through the LF that ends it. It returns 0, having
// changed nothing, for a head that goes on past b or has a bare LF: the
// line-at-a-time path takes those.
func (s *headScanner) wholeHead(b []byte) int {
	start, pos := 0, 0 // the head (after empty lines before it), the line
	reqLine := []byte(nil)
	f := headFraming{length: -1}
	for {
		j := bytes.IndexByte(b[pos:], '\n')
		if j < 0 {
			return 0
		}
		end := pos + j
		if end == pos || b[end-1] != '\r' {
			return 0 // a bare LF
		}
		// A line of CRs only is empty, as lineLen counts it.
		if b[pos] == '\r' && len(bytes.Trim(b[pos:end], "\r")) == 0 {
			if end-start > 1 { // CRLF CRLF: the head ends
				if pos == start { // the head is this line alone
					reqLine = b[start:end]
				}
				if end-start >= maxHeadScan {
					f.off = true
				}
				if s.frame(reqLine, f); s.off {
					s.keepAll(b[start:end]) // left as the line-at-a-time path leaves it
				}
				return end + 1
			}
			start = end + 1 // an empty line before the request line
		} else if pos == start {
			reqLine = b[pos:end]
		} else {
			f.line(b[pos:end])
		}
		pos = end + 1
	}
}

// endHead reads the framing of the head just completed.
func (s *headScanner) endHead() { s.framing(s.head) }

// framing reads a head's framing, line by line in place (no copies: it
// runs for every request). head holds the head's bytes up to the CR of
// its empty last line, as keep gathers them.
func (s *headScanner) framing(head []byte) {
	f := headFraming{length: -1, off: len(head) >= maxHeadScan}
	// Every LF kept in a head ends a line and follows a CR (a bare LF
	// is refused): the lines are what lies between LFs, less that CR.
	reqLine, rest, _ := bytes.Cut(head, lf)
	for len(rest) > 0 && !f.off {
		var ln []byte
		ln, rest, _ = bytes.Cut(rest, lf)
		f.line(ln)
	}
	s.frame(reqLine, f)
}

// headFraming is what a head's lines say of the body after it.
type headFraming struct {
	length  int64 // Content-Length; -1: none
	chunked bool
	off     bool // framing net/http refuses, or that is not followed
}

// line reads one header line, its LF excluded (a CR before it included).
func (f *headFraming) line(ln []byte) {
	if f.off || !mayFrame(ln) {
		return
	}
	ln = bytes.TrimSuffix(ln, cr)
	name, value, ok := bytes.Cut(ln, colon)
	if !ok {
		return
	}
	name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
	switch {
	case asciiEqualFold(name, "content-length"):
		u, err := strconv.ParseUint(string(value), 10, 63)
		n := int64(u)
		if err != nil || f.length >= 0 && n != f.length {
			f.off = true
			return
		}
		f.length = n
	case asciiEqualFold(name, "transfer-encoding"):
		if !bytes.EqualFold(value, []byte("chunked")) || f.chunked {
			f.off = true
			return
		}
		f.chunked = true
	case asciiEqualFold(name, "upgrade"):
		f.off = true
	}
}

// frame sets the state after a head of request line reqLine and framing
// f: checking stops (off) for framing not followed and for CONNECT.
func (s *headScanner) frame(reqLine []byte, f headFraming) {
	if f.off || bytes.HasPrefix(reqLine, []byte("CONNECT ")) {
		s.off = true
		return
	}
	s.head, s.lineLen, s.prevCR = s.head[:0], 0, false
	switch {
	case f.chunked: // wins over Content-Length, as in net/http
		s.state = inChunkSize
	case f.length > 0:
		s.state, s.left = inBody, f.length
	default:
		s.state = inHead
	}
}

var lf, colon = []byte{'\n'}, []byte{':'}

// mayFrame reports whether a head line can be one of the headers framing
// reads (Content-Length, Transfer-Encoding, Upgrade): its first byte that
// bytes.TrimSpace keeps is c, t or u in either case, or not ASCII.
func mayFrame(ln []byte) bool {
	for _, c := range ln {
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			continue
		case 'c', 'C', 't', 'T', 'u', 'U':
			return true
		}
		return c >= 0x80
	}
	return false
}

// asciiEqualFold reports whether b is lower (all ASCII) in any case: the
// header names that decide framing are ASCII, and so is what net/http
// takes for them.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// chunkSize parses a chunk-size line (hex, optional extensions, optional CR).
func chunkSize(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	return n, err == nil && n >= 0
}
