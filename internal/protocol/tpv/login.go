package tpv

import (
	"encoding/hex"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// LoginParams are the three query parameters of POST /api/v1/auth.
type LoginParams struct {
	Token     string
	Timestamp string
	Signature []byte
}

// maxAppToken bounds the application token a caller may send.
const maxAppToken = 256

// ParseLoginQuery reads token, timestamp and _signature from a raw query.
// Each must appear exactly once; other parameters are ignored (they are not
// covered by the signature, so they cannot change what is authenticated).
func ParseLoginQuery(raw string) (LoginParams, error) {
	pairs, err := parseQuery(raw)
	if err != nil {
		return LoginParams{}, err
	}
	got := map[string][]string{}
	for _, p := range pairs {
		switch p.name {
		case "token", "timestamp", "_signature":
			got[p.name] = append(got[p.name], p.value)
		}
	}
	var lp LoginParams
	for _, name := range []string{"token", "timestamp", "_signature"} {
		switch vs := got[name]; {
		case len(vs) == 0 || vs[0] == "":
			return LoginParams{}, core.E(core.KindInvalidInput, name+" must be given")
		case len(vs) > 1:
			return LoginParams{}, core.E(core.KindInvalidInput, name+" must be given once")
		}
	}
	lp.Token = got["token"][0]
	if len(lp.Token) > maxAppToken {
		return LoginParams{}, core.E(core.KindInvalidInput, "token must be at most 256 characters")
	}
	lp.Timestamp = got["timestamp"][0]
	if _, err := ParseTimestamp("timestamp", lp.Timestamp); err != nil {
		return LoginParams{}, err
	}
	if lp.Signature, err = ParseSignature("_signature", got["_signature"][0]); err != nil {
		return LoginParams{}, err
	}
	return lp, nil
}

// dummyKey keeps the work for an unknown application token the same as
// for a known one, so token existence does not show in response times.
var dummyKey = make([]byte, 48)

// login is POST /api/v1/auth?token=T&timestamp=S&_signature=H. Its
// outcome is observed once, under GrantLogin.
func (m *Module) login(w http.ResponseWriter, r *http.Request) {
	ctx, o := scheme.Observe(r.Context(), m.d.Observer, m.d.Tracer, Family, GrantLogin)
	if ctx != r.Context() { // a span: its children are the login's store calls
		r = r.WithContext(ctx)
	}
	org, err := m.serveLogin(w, r)
	o.Done(org, err)
}

// serveLogin answers a login; it returns the brand's organisation (when
// known) and the error it answered, nil on success.
func (m *Module) serveLogin(w http.ResponseWriter, r *http.Request) (org string, ferr error) {
	subject := ""
	fail := func(err error, b *brand) {
		m.auditFailure(r, m.d.ClientAddr.IP(r), core.AuditAuthFailure, b, subject, err)
		m.writeError(w, r, err)
		ferr = err
	}
	lp, err := ParseLoginQuery(r.URL.RawQuery)
	if err != nil {
		fail(err, nil)
		return
	}
	subject = printable(lp.Token)
	now := m.d.Clock.Now()
	ts, _ := ParseTimestamp("timestamp", lp.Timestamp)
	if err := checkFresh("timestamp", ts, now, m.cfg.LoginTolerance); err != nil {
		fail(err, nil)
		return
	}
	ctx := r.Context()
	msg := loginMessage(lp.Token, lp.Timestamp)
	var cred core.Credential
	var b *brand
	err = m.d.Guard.Verify(ctx, core.Attempt{Kind: core.CredAppToken, Lookup: lp.Token, Addr: m.d.ClientAddr.IP(r), Family: Family, Scheme: GrantLogin}, func() error {
		var err error
		if cred, err = m.d.Credentials.Find(ctx, core.CredAppToken, lp.Token); err != nil {
			hmacSHA256(dummyKey, msg)
			if core.IsGuess(err) {
				err = core.Wrap(core.KindUnauthenticated, "invalid token or signature", errDetail("application token: "+core.ReasonOf(err)))
			}
			return err
		}
		b = &brand{OrgID: cred.OrgID, PrincipalID: cred.PrincipalID, CredentialID: cred.ID}
		secret, err := m.d.Credentials.Open(cred)
		if err != nil {
			return err
		}
		if !core.ConstantTimeEqual(hmacSHA256(secret, msg), lp.Signature) {
			return core.Wrap(core.KindUnauthenticated, "invalid token or signature", errDetail("login signature mismatch"))
		}
		return nil
	})
	if err != nil {
		fail(err, b)
		return
	}
	// Single use: the same signed URL cannot log in twice. The key lives as
	// long as the timestamp could still pass checkFresh.
	if err := m.d.Replay.Remember(ctx, "tpv-login", hex.EncodeToString(lp.Signature), ts.Add(m.cfg.LoginTolerance+time.Second)); err != nil {
		if core.KindOf(err) == core.KindReplayed {
			err = core.Wrap(core.KindReplayed, "signature already used", errDetail("replayed login signature"))
		}
		fail(err, b)
		return
	}
	if err := m.loadBrand(ctx, b); err != nil {
		fail(err, b)
		return
	}
	value, tok, err := m.d.Tokens.Issue(ctx, core.TokenSpec{
		Kind: core.TokenTPVAuth, OrgID: cred.OrgID, PrincipalID: cred.PrincipalID,
		CredentialID: cred.ID, TTL: m.cfg.AuthTokenTTL,
	})
	if err != nil {
		m.writeError(w, r, err)
		return cred.OrgID, err
	}
	if err := m.audit(r, core.AuditEvent{
		Action: core.AuditIssue, OrgID: cred.OrgID, PrincipalID: cred.PrincipalID,
		Subject: cred.Lookup, Reason: "auth_token " + tok.ID,
	}); err != nil {
		// An unaudited token must not leave the server.
		m.writeError(w, r, err)
		return cred.OrgID, err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"auth_token": value,
		"expires_in": int64(m.cfg.AuthTokenTTL / time.Second),
	})
	return cred.OrgID, nil
}
