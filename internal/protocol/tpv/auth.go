package tpv

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// brand is the authenticated caller of a TPV route.
type brand struct {
	OrgID        string
	PrincipalID  string
	CredentialID string
	Name         string
	Signed       bool // the request carried a verified Signature
}

// loadBrand fills in the principal and refuses disabled or non-brand principals.
func (m *Module) loadBrand(r *http.Request, b *brand) error {
	p, err := m.d.Principals.GetPrincipal(r.Context(), b.PrincipalID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return core.Wrap(core.KindUnauthenticated, "invalid token or signature", errDetail("brand principal missing"))
		}
		return err
	}
	if p.Disabled {
		return core.Wrap(core.KindUnauthenticated, "brand is disabled", errDetail("brand disabled"))
	}
	if p.Kind != core.PrincipalApplication {
		return core.Wrap(core.KindUnauthenticated, "invalid token or signature", errDetail("app token belongs to a "+string(p.Kind)+", not a brand"))
	}
	b.Name = p.Name
	return nil
}

// handlerFunc is a TPV route once the caller is authenticated; body is
// the whole request body (already read, since the signature covers it).
type handlerFunc func(w http.ResponseWriter, r *http.Request, b *brand, body []byte) error

// authed authenticates the auth token and, per route, the Signature, then
// runs h. Every failure is audited and rendered as {"error": ...}.
func (m *Module) authed(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := m.readBody(r)
		if err != nil {
			m.auditFailure(r, auditReject, nil, route, err)
			m.writeError(w, r, err)
			return
		}
		b, err := m.authenticate(r, route, body)
		if err != nil {
			m.auditFailure(r, core.AuditAuthFailure, b, route, err)
			m.writeError(w, r, err)
			return
		}
		if m.d.Access != nil {
			if err := m.d.Access.Allow(r.Context(), core.Access{OrgID: b.OrgID, PrincipalID: b.PrincipalID, Method: r.Method, Path: r.URL.Path, Scheme: "tpv", Kind: core.PrincipalApplication}); err != nil {
				m.writeError(w, r, err)
				return
			}
		}
		if err := h(w, r, b, body); err != nil {
			m.writeError(w, r, err)
		}
	})
}

// readBody reads the whole body up to the configured limit.
func (m *Module) readBody(r *http.Request) ([]byte, error) {
	tooLarge := &transportError{http.StatusRequestEntityTooLarge, "request body must be at most " + strconv.FormatInt(m.cfg.MaxBodyBytes, 10) + " bytes"}
	if r.ContentLength > m.cfg.MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.cfg.MaxBodyBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, core.Wrap(core.KindInvalidInput, "request body could not be read", err)
	}
	if int64(len(body)) > m.cfg.MaxBodyBytes {
		return nil, tooLarge
	}
	return body, nil
}

// authToken takes the token from "Authorization: <token>". "Bearer <token>"
// is tolerated too: tokens are base64url, so the two cannot be confused.
func authToken(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	return h
}

// authenticate checks the auth token and the request signature.
func (m *Module) authenticate(r *http.Request, route string, body []byte) (*brand, error) {
	ctx := r.Context()
	tokVal := authToken(r.Header.Get("Authorization"))
	if tokVal == "" {
		return nil, core.Wrap(core.KindUnauthenticated, "Authorization header must carry the auth_token", errDetail("no auth token"))
	}
	tok, err := m.d.Tokens.Lookup(ctx, core.TokenTPVAuth, tokVal)
	if err != nil {
		// Lookup returns the token with Expired and Revoked: name its brand in the audit.
		known := &brand{OrgID: tok.OrgID, PrincipalID: tok.PrincipalID, CredentialID: tok.CredentialID}
		switch core.KindOf(err) {
		case core.KindExpired:
			return known, core.Wrap(core.KindExpired, "auth_token has expired", errDetail("expired auth token"))
		case core.KindRevoked:
			return known, core.Wrap(core.KindRevoked, "auth_token has been revoked", errDetail("revoked auth token"))
		case core.KindUnauthenticated:
			return nil, core.Wrap(core.KindUnauthenticated, "auth_token is not valid", errDetail("unknown auth token"))
		}
		return nil, err
	}
	b := &brand{OrgID: tok.OrgID, PrincipalID: tok.PrincipalID, CredentialID: tok.CredentialID}
	sigHeader := r.Header.Get(HeaderSignature)
	switch {
	case sigHeader != "":
		if err := m.verifySignature(r, b, body, tokVal, sigHeader); err != nil {
			return b, err
		}
		b.Signed = true
	case m.cfg.signatureRequired(route):
		return b, core.Wrap(core.KindUnauthenticated, "Signature header must be given", errDetail("missing request signature"))
	}
	if err := m.loadBrand(r, b); err != nil {
		return b, err
	}
	return b, nil
}

// verifySignature checks the Signature header against the canonical
// request (docs/tpv-signature.md) and spends it.
func (m *Module) verifySignature(r *http.Request, b *brand, body []byte, tokVal, sigHeader string) error {
	sig, err := ParseSignature(HeaderSignature+" header", sigHeader)
	if err != nil {
		return err
	}
	tsHeader := r.Header.Get(HeaderTimestamp)
	if tsHeader == "" {
		return core.E(core.KindInvalidInput, HeaderTimestamp+" header must be given with a Signature")
	}
	ts, err := ParseTimestamp(HeaderTimestamp+" header", tsHeader)
	if err != nil {
		return err
	}
	if err := checkFresh(HeaderTimestamp+" header", ts, m.d.Clock.Now(), m.cfg.RequestTolerance); err != nil {
		return err
	}
	cq, err := CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	cred, err := m.d.CredStore.GetCredential(r.Context(), b.CredentialID)
	if err != nil {
		return err
	}
	if !cred.Active(m.d.Clock.Now()) {
		return core.Wrap(core.KindRevoked, "application token is no longer valid", errDetail("credential revoked or expired"))
	}
	// The same secret as the login's, so counted as the same credential.
	err = m.d.Guard.Verify(r.Context(), core.Attempt{Kind: core.CredAppToken, Lookup: cred.Lookup, Addr: m.d.ClientAddr.IP(r)}, func() error {
		secret, err := m.d.Credentials.Open(cred)
		if err != nil {
			return err
		}
		canon := canonicalRequest(r.Method, r.URL.EscapedPath(), cq, tsHeader, body, tokVal)
		if !core.ConstantTimeEqual(hmacSHA256(secret, canon), sig) {
			return core.Wrap(core.KindUnauthenticated, "Signature does not match the request", errDetail("request signature mismatch"))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Keyed on the decoded bytes, so flipping hex case is still a replay.
	if err := m.d.Replay.Remember(r.Context(), "tpv-sig", hex.EncodeToString(sig), ts.Add(m.cfg.RequestTolerance+time.Second)); err != nil {
		if core.KindOf(err) == core.KindReplayed {
			return core.Wrap(core.KindReplayed, "Signature has already been used", errDetail("replayed request signature"))
		}
		return err
	}
	return nil
}
