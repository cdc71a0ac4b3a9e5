package tpv

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// brand is the authenticated caller of a TPV route.
type brand struct {
	OrgID        string
	PrincipalID  string
	CredentialID string
	Name         string
	Signed       bool       // the request carried a verified Signature
	TokenID      string     // the auth_token's id (never its value)
	ExpiresAt    *time.Time // when the auth_token expires
}

// loadBrand fills in the principal and refuses disabled or non-brand principals.
func (m *Module) loadBrand(ctx context.Context, b *brand) error {
	p, err := m.d.Principals.GetPrincipal(ctx, b.PrincipalID)
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

// authed authenticates the request with the tpv-signature scheme (the
// same check the gateway and forward-auth run), checks the brand's
// subscription, then runs h. Every failure is audited and rendered as
// {"error": ...}.
func (m *Module) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := m.readBody(w, r)
		if err != nil {
			m.auditFailure(r, m.d.ClientAddr.IP(r), auditReject, nil, m.sig.routeOf(r), err)
			m.writeError(w, r, err)
			return
		}
		c, err := m.checked.Authenticate(r.Context(), scheme.Request{HTTP: r, Body: body, BodyKnown: true, Addr: clientAddr(m.d.ClientAddr.IP(r))})
		if err != nil {
			m.sig.WriteRefusal(w, r, err)
			return
		}
		// A Signature that is sent is always verified: present means verified.
		b := &brand{OrgID: c.OrgID, PrincipalID: c.PrincipalID, Name: c.Subject, Signed: r.Header.Get(HeaderSignature) != ""}
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

// readBody reads the whole body up to the configured limit
// (httpapi.ReadBody), keeping the TPV wording of the 413.
func (m *Module) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := httpapi.ReadBody(w, r, m.cfg.MaxBodyBytes)
	if errors.Is(err, httpapi.ErrBodyTooLarge) {
		return nil, &transportError{http.StatusRequestEntityTooLarge, "request body must be at most " + strconv.FormatInt(m.cfg.MaxBodyBytes, 10) + " bytes"}
	}
	return body, err
}

// clientAddr parses the address ClientAddr.IP returns (zero if it is none).
func clientAddr(ip string) netip.Addr {
	a, _ := netip.ParseAddr(ip)
	return a
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

// authenticate checks the auth token and the request signature; route is
// the TPV route r addresses ("" for any other path: Signature required).
func (m *Module) authenticate(ctx context.Context, r *http.Request, ip, route string, body []byte) (*brand, error) {
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
	b := &brand{OrgID: tok.OrgID, PrincipalID: tok.PrincipalID, CredentialID: tok.CredentialID, TokenID: tok.ID, ExpiresAt: tok.ExpiresAt}
	sigHeader := r.Header.Get(HeaderSignature)
	switch {
	case sigHeader != "":
		if err := m.verifySignature(ctx, r, ip, b, body, tokVal, sigHeader); err != nil {
			return b, err
		}
		b.Signed = true
	case m.cfg.signatureRequired(route):
		return b, core.Wrap(core.KindUnauthenticated, "Signature header must be given", errDetail("missing request signature"))
	}
	if err := m.loadBrand(ctx, b); err != nil {
		return b, err
	}
	return b, nil
}

// verifySignature checks the Signature header against the canonical
// request (docs/tpv-signature.md) and spends it.
func (m *Module) verifySignature(ctx context.Context, r *http.Request, ip string, b *brand, body []byte, tokVal, sigHeader string) error {
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
	cred, err := m.d.CredStore.GetCredential(ctx, b.CredentialID)
	if err != nil {
		return err
	}
	if !cred.Active(m.d.Clock.Now()) {
		return core.Wrap(core.KindRevoked, "application token is no longer valid", errDetail("credential revoked or expired"))
	}
	// The same secret as the login's, so counted as the same credential.
	err = m.d.Guard.Verify(ctx, core.Attempt{Kind: core.CredAppToken, Lookup: cred.Lookup, Addr: ip, Family: Family, Scheme: SchemeName}, func() error {
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
	if err := m.d.Replay.Remember(ctx, "tpv-sig", hex.EncodeToString(sig), ts.Add(m.cfg.RequestTolerance+time.Second)); err != nil {
		if core.KindOf(err) == core.KindReplayed {
			return core.Wrap(core.KindReplayed, "Signature has already been used", errDetail("replayed request signature"))
		}
		return err
	}
	return nil
}
