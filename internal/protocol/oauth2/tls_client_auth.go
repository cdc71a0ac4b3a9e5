package oauth2

import (
	"net/http"
	"net/netip"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/scheme"
)

// TLSClientAuth is POST /oauth/token on the devices' mutual-TLS listener.
// A client_credentials request without a client secret from a client with
// a certificate is RFC 8705 tls_client_auth: the certificate is the client
// authentication, checked by devices (the device adapter's device-mtls
// scheme; client_id, if sent, must name the device), and the access
// token is bound to it (cnf x5t#S256 kept as the token's CertThumbprint,
// checked by every bearer check). A refresh_token grant with a
// certificate, and every request without one, is the main token endpoint
// (which refreshes a bound refresh token only over its certificate, into
// tokens bound to it). Each request's outcome is observed once, under
// its grant (GrantTLSClientAuth for tls_client_auth).
func (m *Module) TLSClientAuth(devices scheme.Scheme) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.Header.Get("Authorization") != "" {
			m.token(w, r)
			return
		}
		f, ferr := readForm(w, r, m.cfg.MaxFormBytes)
		if ferr != nil {
			_, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, GrantUnknown)
			o.Done("", grantOutcome(ferr))
			m.refuseToken(w, r, ferr, ctxClient, "", "")
			return
		}
		if f.grantType() == "refresh_token" {
			// A refresh token bound to this certificate is refreshed here (the
			// grant checks the binding against this connection).
			m.grant(w, r, f)
			return
		}
		name := grantName(f.grantType())
		if name == GrantClientCredentials {
			name = GrantTLSClientAuth
		}
		ctx, o := scheme.Observe(r.Context(), m.svc.Observer, m.svc.Tracer, family, name)
		if ctx != r.Context() { // a span: its children are the grant's store calls
			r = r.WithContext(ctx)
		}
		org, err := m.tlsClientAuth(w, r, f, devices)
		o.Done(org, grantOutcome(err))
	})
}

// tlsClientAuth answers a token request with a client certificate that
// is not a refresh; it returns the device's organisation (when known) and
// the error it answered, nil on success.
func (m *Module) tlsClientAuth(w http.ResponseWriter, r *http.Request, f Form, devices scheme.Scheme) (string, error) {
	if f.grantType() != "client_credentials" || f.get("client_secret") != "" {
		err := errInvalidRequest("with a client certificate, use grant_type=client_credentials (tls_client_auth) without client_secret")
		m.refuseToken(w, r, err, ctxClient, "", "")
		return "", err
	}
	addr, _ := netip.ParseAddr(m.opt.Addr.IP(r))
	d, err := devices.Authenticate(r.Context(), scheme.Request{HTTP: r, Addr: addr})
	if err != nil {
		devices.WriteRefusal(w, r, err)
		return "", err
	}
	if id := f.get("client_id"); id != "" && id != d.Subject {
		err := core.E(core.KindUnauthenticated, "client_id does not match the client certificate")
		devices.WriteRefusal(w, r, err)
		return d.OrgID, err
	}
	ctx := r.Context()
	p := core.Principal{ID: d.PrincipalID, OrgID: d.OrgID, Kind: d.Kind, Name: d.Subject}
	scope, named, err := m.grantScope(ctx, f, p)
	if err != nil {
		m.refuseToken(w, r, err, ctxClient, "", p.Name)
		return p.OrgID, err
	}
	leaf := r.TLS.PeerCertificates[0]
	now := m.svc.Clock.Now()
	// CredentialID: revoking the certificate revokes the token.
	access, at := m.svc.Tokens.NewToken(core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID,
		PrincipalKind: p.Kind, CredentialID: d.CredentialID, TTL: m.cfg.AccessTokenTTL, CertThumbprint: core.CertThumbprint(leaf.Raw), Scope: scope})
	ev := m.event(r, core.AuditEvent{Action: core.AuditIssue, OrgID: p.OrgID, PrincipalID: p.ID, Subject: at.ID,
		Reason: "client credentials grant (tls_client_auth) for device " + p.Name + " certificate " + leaf.SerialNumber.Text(16)})
	if err := m.svc.Tokens.Commit(ctx, []core.Token{at}, []core.AuditEvent{ev}); err != nil {
		writeError(w, r, m.log, err, ctxClient, "")
		return p.OrgID, err
	}
	m.writeToken(w, r, withScope(tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expiresIn(at, now)}, scope, named))
	return p.OrgID, nil
}
