package gateway

import (
	"context"
	"net/http"
	"net/netip"

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
type ForwardAuth struct {
	g    *Gateway
	addr httpapi.ClientAddr
	max  int64
}

// NewForwardAuth builds the endpoint over g's route table. Only the
// trusted proxies of g's client address (trusted_proxies) are answered:
// only they describe requests, and anyone else could collect identity
// tokens for requests it never sends through a front end.
func NewForwardAuth(g *Gateway) *ForwardAuth {
	return &ForwardAuth{g: g, addr: g.d.Addr, max: g.cfg.MaxBodyBytes}
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
		dec.WriteRefusal(w, req.HTTP, err)
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
	w.WriteHeader(http.StatusOK)
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
	httpapi.WriteJSON(w, status, map[string]string{"error": reason})
}

// clientAddr is the original client's address (X-Forwarded-For walked
// through the trusted proxies), for the failed-authentication limiter.
func clientAddr(c httpapi.ClientAddr, r *http.Request) netip.Addr {
	return c.Addr(r).Unmap()
}
