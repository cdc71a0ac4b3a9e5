package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// proxyState is one proxied request's state. It is the request's context
// from ServeHTTP to the reverse proxy's hooks (one allocation where a
// context.WithValue would add another): the cancellable context of the
// exchange, answering stateKey with itself.
type proxyState struct {
	context.Context
	cancel   context.CancelFunc
	d        Decision
	body     []byte // the buffered body (nil: streamed)
	buffered bool
	start    time.Time
	timer    *time.Timer
	timedOut atomic.Bool
	// forwarded holds the X-Forwarded-* values of the upstream request.
	forwarded [3]string
}

type stateKey struct{}

// Value answers stateKey with the state, anything else from the parent.
func (st *proxyState) Value(key any) any {
	if key == (stateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// expire ends an exchange whose upstream did not answer within the
// route's timeout.
func (st *proxyState) expire() {
	st.timedOut.Store(true)
	st.cancel()
}

func stateOf(r *http.Request) *proxyState {
	st, _ := r.Context().Value(stateKey{}).(*proxyState)
	return st
}

// ServeHTTP is gateway mode: the main listener's fallback for requests no
// built-in route serves. The client's X-Authgate-* headers are dropped
// first; the request is matched, its body buffered only when the
// presented scheme signs it, decided, and proxied upstream.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dropIdentityHeaders(r.Header)
	dropIdentityHeaders(r.Trailer)
	sel, selErr := g.Select(r)
	req := scheme.Request{HTTP: r, Addr: g.clientAddr(r)}
	if sel.Route != nil {
		r.Pattern = sel.rt.pattern // the listener's request metrics by route
		max := g.cfg.MaxBodyBytes
		switch {
		case r.ContentLength > max:
			g.refuseBody(w, r, req, sel, http.StatusRequestEntityTooLarge,
				core.Wrap(core.KindInvalidInput, fmt.Sprintf("request body larger than %d bytes", max), httpapi.ErrBodyTooLarge))
			return
		case selErr == nil && sel.Scheme.NeedsBody(r):
			b, err := httpapi.ReadBody(w, r, max)
			if err != nil {
				status, _ := httpapi.BodyStatus(err)
				g.refuseBody(w, r, req, sel, status, err)
				return
			}
			req.Body, req.BodyKnown = b, true
		case r.Body != nil && r.Body != http.NoBody:
			r.Body = http.MaxBytesReader(w, r.Body, max) // streamed, still bounded
		}
	}
	d, err := g.decideSelected(r.Context(), req, sel, selErr)
	if err != nil {
		closeConnIfBody(w, r)
		d.WriteRefusal(w, r, err)
		return
	}
	st := &proxyState{d: d, body: req.Body, buffered: req.BodyKnown, start: time.Now()} // metrics: real time
	st.Context, st.cancel = context.WithCancel(r.Context())
	defer st.cancel()
	st.timer = time.AfterFunc(d.rt.timeout(), st.expire)
	defer st.timer.Stop()
	g.proxy.ServeHTTP(w, r.WithContext(st))
}

// refuseBody answers a body the gateway will not read (too large, too
// slow) in the route's shape with status, audited like every refusal.
func (g *Gateway) refuseBody(w http.ResponseWriter, r *http.Request, req scheme.Request, sel Decision, status int, err error) {
	g.deny(r.Context(), req, sel, err)
	w.Header().Set("Connection", "close")
	writeShaped(w, r, sel.Scheme, status, err)
}

func (g *Gateway) clientAddr(r *http.Request) netip.Addr {
	return g.d.Addr.Addr(r)
}

// dropIdentityHeaders removes every X-Authgate-* header: only the gateway
// sets them.
func dropIdentityHeaders(h http.Header) {
	for k := range h {
		if len(k) >= len(HeaderPrefix) && strings.EqualFold(k[:len(HeaderPrefix)], HeaderPrefix) {
			delete(h, k)
		}
	}
}

// pathProblem refuses a path that means one thing to the route table and
// may mean another upstream. The listener's mux already redirects plain
// dot segments and double slashes to the clean path; what arrives here
// escaped is refused: "/api/%2e%2e/admin" decodes to a dot segment,
// "/api%2Fx" is /api/x to the table but one segment to many upstreams,
// a backslash is a separator to some, a control character truncates in
// others.
func pathProblem(u *url.URL) string {
	if encodedSeparator(u.EscapedPath()) || strings.IndexByte(u.Path, '\\') >= 0 {
		return "an encoded / or a \\ in the path is refused"
	}
	p := u.Path
	if p == "" || p[0] != '/' {
		return "the path must be absolute"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "a control character in the path is refused"
		}
	}
	for rest := p[1:]; ; { // segment by segment, without a slice of them
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." || seg == "" && more {
			return "the path has dot segments or empty segments (encoded): send the clean path"
		}
		if !more {
			return ""
		}
		rest = tail
	}
}

// encodedSeparator reports whether an escaped path holds %2F or %5C, in
// either case.
func encodedSeparator(escaped string) bool {
	for i := 0; i+2 < len(escaped); i++ {
		if escaped[i] != '%' {
			continue
		}
		switch hi, lo := escaped[i+1], escaped[i+2]|0x20; { // |0x20: lower case
		case hi == '2' && lo == 'f', hi == '5' && lo == 'c':
			return true
		}
	}
	return false
}

func closeConnIfBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// writeShaped writes err in the shape of scheme s (its body, content
// type, headers) with the status the gateway chose (413, 502, 504),
// which no scheme maps a domain error to itself; without a scheme, JSON.
func writeShaped(w http.ResponseWriter, r *http.Request, s scheme.Scheme, status int, err error) {
	if s == nil {
		writeJSONError(w, status, core.ReasonOf(err))
		return
	}
	s.WriteRefusal(&statusWriter{ResponseWriter: w, status: status}, r, err)
}

// statusWriter replaces the status a refusal writer chose.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(int) {
	if !s.wrote {
		s.wrote = true
		s.Header().Del("WWW-Authenticate") // not a credentials problem
		s.ResponseWriter.WriteHeader(s.status)
	}
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.WriteHeader(0)
	return s.ResponseWriter.Write(b)
}

// newReverseProxy builds the one reverse proxy of every route: pooled
// connections, streaming both ways, hop-by-hop headers dropped and
// WebSocket upgrades passed through (httputil.ReverseProxy).
func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	tr := g.d.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 nil, // never the environment's HTTP(S)_PROXY
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	if g.d.Outgoing != nil {
		tr = g.d.Outgoing(tr)
	}
	return &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      tr,
		BufferPool:     bufferPool{},
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		ErrorLog:       slog.NewLogLogger(g.d.Log.Handler(), slog.LevelDebug),
	}
}

// rewrite builds the upstream request: the route's next upstream and path
// (prefix stripped when asked), X-Forwarded-*, the client's credentials
// removed unless the route passes them, the identity headers.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	rt := st.d.rt
	up := rt.pick()
	path, raw := pr.In.URL.Path, pr.In.URL.RawPath
	if rt.StripPrefix {
		path, raw = stripPrefix(rt.PathPrefix, path, raw)
	}
	out := pr.Out
	out.URL.Scheme, out.URL.Host = up.Scheme, up.Host
	out.URL.Path = joinPath(up.Path, path)
	out.URL.RawPath = ""
	if raw != "" {
		out.URL.RawPath = joinPath(up.Path, raw)
	}
	out.Host = "" // the upstream's own host name
	if g.d.Addr.TrustedPeer(pr.In) {
		// Behind a trusted proxy the chain so far is believed and extended.
		out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	setForwarded(out, pr.In, g.d.Addr.Secure(pr.In), &st.forwarded)
	body := st.body
	if !rt.PassCredentials {
		body = st.d.Scheme.StripCredentials(out, body)
	}
	// The admin console's session (an access token) never leaves for an
	// upstream, whatever the route passes on.
	httpapi.DropCookie(out.Header, httpapi.ConsoleCookie)
	if st.buffered {
		b := body
		out.Body = io.NopCloser(bytes.NewReader(b))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		out.ContentLength = int64(len(b))
		out.TransferEncoding = nil
		if len(b) == 0 {
			out.Body = http.NoBody
		}
	}
	dropIdentityHeaders(out.Header)
	st.d.identity.set(out.Header)
}

// setForwarded is httputil.ProxyRequest.SetXForwarded with
// X-Forwarded-Proto https also when secure (a trusted proxy said so), its
// three values kept in vals (the request's state) instead of three
// allocations: X-Forwarded-For the client's address appended to the
// chain out already holds (dropped when RemoteAddr has no port),
// X-Forwarded-Host the client's Host.
func setForwarded(out, in *http.Request, secure bool, vals *[3]string) {
	if clientIP, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		out.Header["X-Forwarded-For"] = vals[0:1:1]
	} else {
		delete(out.Header, "X-Forwarded-For")
	}
	vals[1] = in.Host
	out.Header["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if secure || in.TLS != nil {
		vals[2] = "https"
	}
	out.Header["X-Forwarded-Proto"] = vals[2:3:3]
}

// stripPrefix removes prefix from the decoded path and, when it is set
// and agrees, from the escaped form.
func stripPrefix(prefix, path, raw string) (string, string) {
	if prefix == "/" {
		return path, raw
	}
	p := strings.TrimPrefix(path, prefix)
	if raw != "" {
		rp, ok := strings.CutPrefix(raw, prefix)
		if u, err := url.PathUnescape(rp); !ok || err != nil || u != p {
			rp = "" // re-escaped from the decoded path
		}
		raw = rp
	}
	return p, raw
}

func joinPath(base, p string) string {
	if out := base + p; out != "" {
		return out
	}
	return "/"
}

// modifyResponse ends the upstream timeout once the response headers are in.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	if st := stateOf(resp.Request); st != nil {
		st.timer.Stop()
		g.metrics.answered(st.d.rt, resp.StatusCode, time.Since(st.start))
	}
	return nil
}

// proxyError answers a failed upstream exchange in the route's shape: 504
// when the route's timeout passed, 413 when the streamed body outgrew
// max_body_bytes, 502 otherwise. A client that went away gets nothing.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	var mbe *http.MaxBytesError
	status, reason, label := http.StatusBadGateway, "the upstream could not be reached or failed", "unreachable"
	switch {
	case st.timedOut.Load():
		status, reason, label = http.StatusGatewayTimeout, "the upstream did not answer in time", "timeout"
	case errors.As(err, &mbe):
		status, reason, label = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", g.cfg.MaxBodyBytes), "body_too_large"
	case r.Context().Err() != nil:
		g.metrics.upstreamErrors.WithLabelValues(st.d.rt.Name, "client_gone").Inc()
		return // the client went away
	}
	g.metrics.upstreamErrors.WithLabelValues(st.d.rt.Name, label).Inc()
	g.d.Log.Warn("gateway upstream failed", slog.String("route", st.d.Route.Name), slog.Int("status", status),
		slog.String("err", err.Error()), slog.String("request_id", httpapi.RequestID(r)))
	w.Header().Set("Connection", "close")
	writeShaped(w, r, st.d.Scheme, status, core.E(core.KindUnavailable, reason))
}

// bufferPool reuses the proxy's copy buffers. The pool holds pointers to
// arrays, so putting one back allocates nothing (a *[]byte would).
type bufferPool struct{}

const copyBufferSize = 32 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}
