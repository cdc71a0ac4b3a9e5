package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/scheme"
)

// The identity headers the upstream receives (and the only X-Authgate-*
// headers it ever receives: a client's are dropped first).
const (
	HeaderPrefix       = "X-Authgate-"
	HeaderSubject      = "X-Authgate-Subject"
	HeaderOrganisation = "X-Authgate-Organisation"
	HeaderScheme       = "X-Authgate-Scheme"
	HeaderScope        = "X-Authgate-Scope"
	HeaderIdentity     = "X-Authgate-Identity"
)

// RouteJWKS publishes the identity-token verification keys. They are not
// the TAAP ID-token keys (/.well-known/jwks.json): an upstream that trusts
// this set can never be handed a TAAP ID token as a gateway identity.
const RouteJWKS = "/gateway/jwks.json"

// identity signing keys: one core document, sealed private keys.
const (
	collectionSystem = "gateway.system"
	identityKeysID   = "identity-keys"
	// prepublish: a new key is in the JWKS this long before it signs, so
	// verifiers that cache the JWKS for its max-age already hold it.
	prepublish = 10 * time.Minute
	jwksMaxAge = 5 * time.Minute
)

// IdentityClaims are the claims of X-Authgate-Identity.
type IdentityClaims struct {
	jwt.Claims
	Org    string `json:"org"`
	Scheme string `json:"scheme"`
	Kind   string `json:"kind"`
	Scope  string `json:"scope,omitempty"`
}

func newIdentityKeys(cfg Config, d Deps) *core.SigningKeys {
	return core.NewSigningKeys(core.SigningKeysConfig{Docs: d.Docs, Seal: d.Seal, Clock: d.Clock,
		Collection: collectionSystem, ID: identityKeysID, Purpose: "gateway.identity-key", Alg: "ES256",
		Rotation: cfg.KeyRotation, Keep: cfg.IdentityTTL + core.SignerReload + jwksMaxAge, Prepublish: prepublish})
}

// identityToken signs the caller's identity for route rt: audience the
// route's name, life IdentityTTL but never beyond the credential's own.
// The token signed for a credential on a route is handed out again while
// half its life is left (identityCache): its jti names the token, not the
// request.
func (g *Gateway) identityToken(ctx context.Context, r *http.Request, rt *route, c scheme.Caller) (string, error) {
	s, err := g.keys.Signer(ctx)
	if err != nil {
		return "", err
	}
	now := g.d.Clock.Now()
	issuer := g.issuer(r)
	var key identityKey
	if c.CredentialID != "" {
		key = identityKey{kid: s.Kid, issuer: issuer, route: rt.Name, credential: c.CredentialID, subject: c.Subject,
			org: c.OrgID, scheme: c.Scheme, kind: string(c.Kind), scope: c.Scope}
		if !c.ExpiresAt.IsZero() {
			key.credentialExpiry = c.ExpiresAt.UnixNano()
		}
		if tok, ok := g.identities.get(key, now); ok {
			return tok, nil
		}
	}
	exp := now.Add(g.cfg.IdentityTTL)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt
	}
	claims := IdentityClaims{
		Claims: jwt.Claims{Issuer: issuer, Subject: c.Subject, Audience: jwt.Audience{rt.Name}, ID: core.NewID(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp)},
		Org: c.OrgID, Scheme: c.Scheme, Kind: string(c.Kind), Scope: c.Scope,
	}
	out, err := jwt.Signed(s.Signer).Claims(claims).Serialize()
	if err != nil {
		return "", core.Wrap(core.KindInternal, "sign identity token", err)
	}
	if c.CredentialID != "" {
		g.identities.put(key, out, now, exp)
	}
	return out, nil
}

func (g *Gateway) issuer(r *http.Request) string {
	if g.d.Issuer == nil {
		return "authgate"
	}
	return g.d.Issuer(r)
}

// serveJWKS publishes the identity keys: the signing key, the next one and
// retired ones whose tokens may still be valid.
func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := g.keys.JWKS(r.Context())
	if err != nil {
		g.d.Log.Error("gateway JWKS", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "identity keys unavailable")
		return
	}
	b, err := json.Marshal(set)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(b, '\n'))
}
