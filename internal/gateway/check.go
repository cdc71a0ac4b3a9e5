package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// identityHeaders are the headers a forward-auth answer always carries,
// empty when the caller has no value: a front end told to copy them
// (Caddy's copy_headers, Traefik's authResponseHeaders, nginx's
// auth_request_set) then overwrites whatever the client sent under those
// names instead of keeping it or writing a placeholder of its own.
var identityHeaders = []string{HeaderSubject, HeaderOrganisation, HeaderScheme, HeaderScope, HeaderIdentity}

// ForwardAuth is the forward-auth endpoint: CheckPath (any method) and
// below it, on the main listener. A front end (nginx auth_request,
// Traefik forwardAuth, Caddy forward_auth, Envoy ext_authz HTTP) asks it
// about a request it holds; the answer is 200 with the identity headers,
// or the refusal the gateway's own Decide would give that request.
//
// With gateway.forward_auth_cache_ttl set, an allow that reusing cannot
// weaken carries X-Accel-Expires (cacheSeconds): nginx's proxy_cache
// keeps such an answer that many seconds, overriding Cache-Control:
// no-store, which every other front end and cache still obeys.
type ForwardAuth struct {
	g    *Gateway
	addr httpapi.ClientAddr
	max  int64
	ttl  time.Duration
	// expires[n] is the header value "n" (capacity clipped: an append
	// copies it), one array for every answer.
	expires [MaxForwardAuthCacheTTL/time.Second + 1][]string
}

// HeaderAccelExpires is nginx's response header that makes its cache keep
// an upstream answer for that many seconds, whatever Cache-Control says.
const HeaderAccelExpires = "X-Accel-Expires"

// NewForwardAuth builds the endpoint over g's route table. Only the
// trusted proxies of g's client address (trusted_proxies) are answered:
// only they describe requests, and anyone else could collect identity
// tokens for requests it never sends through a front end.
func NewForwardAuth(g *Gateway) *ForwardAuth {
	f := &ForwardAuth{g: g, addr: g.d.Addr, max: g.cfg.MaxBodyBytes, ttl: g.cfg.ForwardAuthCacheTTL}
	for n := range f.expires {
		v := strconv.Itoa(n)
		f.expires[n] = []string{v}[:1:1]
	}
	return f
}

var _ httpapi.Module = (*ForwardAuth)(nil)

// Register mounts the endpoint for every method.
func (f *ForwardAuth) Register(mux *http.ServeMux) {
	mux.Handle(CheckPath, f)
	mux.Handle(CheckPath+"/", f)
}

// ServeHTTP answers one check.
func (f *ForwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Cache-Control and, on an answer, the placeholder of an identity
	// header the caller has no value for (X-Authgate-Scope: the others
	// always have one) share one array of two: one allocation, each a
	// one-value slice with capacity one, so an append copies it.
	vals := make([]string, 2)
	vals[0] = "no-store"
	w.Header()["Cache-Control"] = vals[0:1:1]
	if !f.addr.TrustedPeer(r) {
		f.refuse(w, r, http.StatusForbidden, core.E(core.KindForbidden,
			"forward-auth answers only the front ends listed in trusted_proxies"), "untrusted front end")
		return
	}
	d, err := DescribeOriginal(r)
	if err != nil {
		f.refuse(w, r, http.StatusBadRequest, err, "description refused")
		return
	}
	req := scheme.Request{HTTP: d.Request, Addr: clientAddr(f.addr, r)}
	if d.BodyForwarded {
		body, err := httpapi.ReadBody(w, r, f.max)
		if err != nil {
			status, ok := httpapi.BodyStatus(err)
			if !ok {
				status = http.StatusBadRequest
			}
			f.refuse(w, r, status, err, "forwarded body")
			return
		}
		req.Body, req.BodyKnown = body, true
		req.HTTP.ContentLength = int64(len(body))
	}
	dec, err := f.g.Decide(r.Context(), req)
	if err != nil {
		dec.WriteRefusal(refusalWriter(w, r, core.ReasonOf(err)), req.HTTP, err)
		return
	}
	h := w.Header()
	empty := vals[1:2:2] // ""
	for _, name := range identityHeaders {
		switch v := dec.Header[name]; {
		case len(v) == 1: // the decision's own values, made for this request
			h[name] = v
		case empty != nil:
			h[name], empty = empty, nil
		default:
			h[name] = []string{""}
		}
	}
	if d.Front == FrontOriginal { // nginx: the only front end with this cache
		if n := f.cacheSeconds(dec); n > 0 {
			h[HeaderAccelExpires] = f.expires[n]
		}
	}
	w.WriteHeader(http.StatusOK)
}

// HeaderError carries a refusal's reason on a check answered to nginx,
// which gets no body: the snippet's error location may pass it on.
const HeaderError = "X-Authgate-Error"

// maxErrorHeader bounds HeaderError's value (a reason is a sentence).
const maxErrorHeader = 256

// nginxRefusal answers nginx's refused checks with their status and
// headers and no body. auth_request never reads the check's body (the
// client gets nginx's own error page), and nginx keeps its connection to
// the check server only after an answer without one: with the body, every
// refused request cost nginx a new connection to authgate, so a flood of
// bad credentials cost a TCP connection each, and a TIME_WAIT port on
// nginx's side until it ran out of ports for the good requests' checks.
// The reason stays in the audit log, WWW-Authenticate and HeaderError.
type nginxRefusal struct {
	http.ResponseWriter
	wrote bool
}

var _ http.ResponseWriter = (*nginxRefusal)(nil)

func (n *nginxRefusal) WriteHeader(code int) {
	if !n.wrote {
		n.wrote = true
		h := n.Header()
		delete(h, "Content-Type")
		h["Content-Length"] = []string{"0"}
	}
	n.ResponseWriter.WriteHeader(code)
}

// Write drops the body.
func (n *nginxRefusal) Write(p []byte) (int, error) {
	if !n.wrote {
		n.WriteHeader(http.StatusOK)
	}
	return len(p), nil
}

// refusalWriter is where a refusal of r is written: w itself, or for
// nginx (the X-Original-URI form) w without the body and with the
// reason in HeaderError.
func refusalWriter(w http.ResponseWriter, r *http.Request, reason string) http.ResponseWriter {
	if !originalForm(r.Header) {
		return w
	}
	if reason != "" {
		w.Header()[HeaderError] = []string{core.LogSafe(reason, maxErrorHeader)}
	}
	return &nginxRefusal{ResponseWriter: w}
}

// cacheSeconds is how long nginx may answer dec's request again without
// asking (0: never), when gateway.forward_auth_cache_ttl is set. Only when
// nothing in the decision is per request: the scheme said the acceptance
// is Reusable (an OAuth2 bearer token, never a PoP token, a TPV or
// Apstrata signature or anything with a nonce or replay check), and the
// route has no subscription resource (every request must be counted
// against the plan's rate and quota). What it depends on besides the
// credential (route, scope, privilege table: method, host and path) the
// front end's cache key holds; changes to the stored state (revocation,
// privileges) reach it within the TTL. Never past the credential's
// expiry, in whole seconds rounded down; the identity token in the answer
// outlives it (Config.Validate: at most half of identity_ttl).
func (f *ForwardAuth) cacheSeconds(dec Decision) int {
	if f.ttl <= 0 || dec.Route == nil || dec.Route.Resource != "" || !dec.Caller.Reusable {
		return 0
	}
	ttl := f.ttl
	if exp := dec.Caller.ExpiresAt; !exp.IsZero() {
		ttl = min(ttl, exp.Sub(f.g.d.Clock.Now()))
	}
	return int(min(ttl, MaxForwardAuthCacheTTL) / time.Second)
}

// refuse answers a check that never reached Decide (no route is known):
// JSON {"error"}, audited with the reason.
func (f *ForwardAuth) refuse(w http.ResponseWriter, r *http.Request, status int, err error, what string) {
	reason := core.ReasonOf(err)
	if reason == "" {
		reason = http.StatusText(status)
	}
	if f.g.d.Audit != nil {
		ev := core.AuditEvent{Action: AuditDeny, Protocol: "gateway", Subject: "forward-auth: " + what,
			Outcome: core.OutcomeFailure, Reason: core.KindOf(err).String() + ": " + reason,
			RequestID: httpapi.RequestID(r)}
		if a := clientAddr(f.addr, r); a.IsValid() {
			ev.RemoteAddr = a.String()
		}
		_ = f.g.d.Audit.Record(context.WithoutCancel(r.Context()), ev)
	}
	httpapi.WriteJSON(refusalWriter(w, r, reason), status, map[string]string{"error": reason})
}

// clientAddr is the original client's address (X-Forwarded-For walked
// through the trusted proxies), for the failed-authentication limiter.
func clientAddr(c httpapi.ClientAddr, r *http.Request) netip.Addr {
	return c.Addr(r).Unmap()
}
