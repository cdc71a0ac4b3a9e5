package taap_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/sdk/pop"
)

// TestTAAPFlow runs TAAP steps 1-4 with the Go SDK: token endpoint (Basic
// + PoP) -> access, ID and refresh token; ID token verified against the
// JWKS; the device resource with Bearer + PoP; replays refused.
func TestTAAPFlow(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	tr := f.accessToken(t)
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != "iot-connectivity" || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("token response: %+v", tr)
	}
	claims := verifyIDToken(t, f, tr.IDToken)
	if claims.Subject != f.client.ClientID || claims.Issuer != f.env.URL {
		t.Fatalf("id token claims: %+v", claims)
	}
	if claims.Cnf["jkt"] != f.client.Thumbprints[0] {
		t.Fatalf("cnf.jkt %q, want the client's key %q", claims.Cnf["jkt"], f.client.Thumbprints[0])
	}
	sum := sha256.Sum256([]byte(tr.AccessToken))
	if claims.AtHash != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Fatal("at_hash does not match the access token")
	}

	dev, err := f.sdk.Device(ctx, tr.AccessToken, testICCID)
	if err != nil {
		t.Fatal(err)
	}
	if dev["iccid"] != testICCID || dev["status"] != "active" || dev["msisdn"] != "+14255550100" {
		t.Fatalf("device: %v", dev)
	}

	// The same signed request twice: the second is a replay.
	req, _ := f.sdk.NewRequest(ctx, "GET", "/iot-connectivity/v1/devices/"+testICCID, nil, tr.AccessToken)
	req2 := req.Clone(ctx)
	if r := send(t, req); r.status != 200 {
		t.Fatalf("first use: %d %v", r.status, r.body)
	}
	r := send(t, req2)
	wantPoPFailure(t, r, taap.CheckReplay)
	if !strings.Contains(f.lastFailure(t), "pop jti: jti ") {
		t.Fatalf("audit reason %q", f.lastFailure(t))
	}

	// Unknown (but valid) ICCID: 404; malformed: 400; both after authentication.
	other := "8901260999999999999"
	other += string(taap.LuhnDigit(other))
	if _, err := f.sdk.Device(ctx, tr.AccessToken, other); !isStatus(err, 404, "not_found") {
		t.Fatalf("unknown ICCID: %v", err)
	}
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID[:19]+string('0'+(testICCID[19]-'0'+1)%10)); !isStatus(err, 400, "invalid_request") {
		t.Fatalf("bad check digit: %v", err)
	}

	// Refresh: rotates; the old refresh token replayed revokes the family.
	refreshed := f.refresh(t, tr.RefreshToken)
	if refreshed.status != 200 {
		t.Fatalf("refresh: %d %v", refreshed.status, refreshed.body)
	}
	if again := f.refresh(t, tr.RefreshToken); again.status != 400 || again.code() != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", again.status, again.body)
	}
	if _, err := f.sdk.Device(ctx, refreshed.body["access_token"].(string), testICCID); !isStatus(err, 401, "invalid_token") {
		t.Fatalf("access token of a revoked family: %v", err)
	}
}

func (f *fixture) refresh(t *testing.T, rt string) result {
	t.Helper()
	body := "grant_type=refresh_token&refresh_token=" + rt
	req, _ := http.NewRequest("POST", f.env.URL+taap.RouteToken, strings.NewReader(body))
	req.SetBasicAuth(f.client.ClientID, f.client.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := f.sdk.Builder.Sign(req, "Content-Type", "Authorization"); err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

func isStatus(err error, status int, code string) bool {
	e, ok := err.(*pop.Error)
	return ok && e.Status == status && e.Code == code
}

type idClaims struct {
	jwt.Claims
	AtHash string            `json:"at_hash"`
	Cnf    map[string]string `json:"cnf"`
}

// verifyIDToken checks an ID token with the published JWKS.
func verifyIDToken(t *testing.T, f *fixture, tok string) idClaims {
	t.Helper()
	resp, err := http.Get(f.env.URL + taap.RouteJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Fatalf("JWKS content type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("JWKS publishes a private key")
		}
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := parsed.Claims(set, &c); err != nil {
		t.Fatalf("ID token does not verify with the JWKS: %v", err)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{f.client.ClientID}, Time: f.env.Clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIDTokenKeyRotation: keys rotate on schedule; a retired key stays in
// the JWKS while tokens it signed can be valid, then leaves it.
func TestIDTokenKeyRotation(t *testing.T) {
	cfg := taap.DefaultConfig()
	cfg.KeyRotation = time.Hour
	cfg.IDTokenTTL = 10 * time.Minute
	f := newFixture(t, fixtureOpts{cfg: &cfg})
	first := f.accessToken(t).IDToken
	kid := func(tok string) string {
		p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return p.Headers[0].KeyID
	}
	f.env.Clock.Advance(61 * time.Minute)
	second := f.accessToken(t).IDToken
	if kid(first) == kid(second) {
		t.Fatal("signing key not rotated after key_rotation")
	}
	f.env.Clock.Advance(5 * time.Minute)
	verifyIDTokenAt(t, f, first) // retired key still published
	verifyIDTokenAt(t, f, second)
	f.env.Clock.Advance(10 * time.Minute)
	set := fetchJWKS(t, f)
	if len(set.Key(kid(first))) != 0 || len(set.Key(kid(second))) != 1 {
		t.Fatalf("JWKS after the old key's tokens expired: %d keys", len(set.Keys))
	}
}

func fetchJWKS(t *testing.T, f *fixture) jose.JSONWebKeySet {
	resp, err := http.Get(f.env.URL + taap.RouteJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func verifyIDTokenAt(t *testing.T, f *fixture, tok string) {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := p.Claims(fetchJWKS(t, f), &c); err != nil {
		t.Fatalf("ID token no longer verifies with the JWKS: %v", err)
	}
}

// TestIDTokenKeySealed: the stored private key is sealed under the master key.
func TestIDTokenKeySealed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.accessToken(t)
	d, err := f.env.Svc.Store.GetDocument(context.Background(), "taap.system", "id-token-keys")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(d.Data), `"d":`) || strings.Contains(string(d.Data), "PRIVATE") {
		t.Fatal("private key material stored in clear")
	}
}

// TestDiscovery: an ID-token consumer that knows only the issuer finds
// the JWKS through /.well-known/openid-configuration and verifies the ID
// token with it.
func TestDiscovery(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tr := f.accessToken(t)
	resp, err := http.Get(f.env.URL + taap.RouteOIDC)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		JWKSURI       string   `json:"jwks_uri"`
		IDTokenAlgs   []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != f.env.URL || md.TokenEndpoint != f.env.URL+taap.RouteToken || len(md.IDTokenAlgs) != 1 || md.AuthMethods[0] != "client_secret_basic" {
		t.Fatalf("metadata %+v", md)
	}
	ks, err := http.Get(md.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(ks.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	p, err := jwt.ParseSigned(tr.IDToken, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(md.IDTokenAlgs[0])})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := p.Claims(set, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: md.Issuer, AnyAudience: jwt.Audience{f.client.ClientID}, Time: f.env.Clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
}
