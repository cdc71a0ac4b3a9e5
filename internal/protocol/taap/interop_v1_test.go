package taap_test

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/keytest"
)

// adminEnv is authgate with the OAuth2 module (for the admin's bearer
// token) and the TAAP module, and the admin's access token.
func adminEnv(t *testing.T, cfg taap.Config) (*agtest.Env, string) {
	t.Helper()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{o, taap.New(cfg, taap.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	resp, err := http.PostForm(env.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {env.Admin.Key}, "password": {env.Admin.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("no admin token: %d %v", resp.StatusCode, err)
	}
	return env, tok.AccessToken
}

func adminPost(t *testing.T, env *agtest.Env, bearer, path string, body any) result {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return send(t, req)
}

// TestTMobileLibrariesVersionV1AndPaddedJWK: T-Mobile's libraries write
// claim v as "v1" and JWK members n/e as padded base64url (Java's default
// URL encoder pads); authgate refused both. A client registers a padded
// JWK over the admin API and gets a token with a PoP token whose v is
// "v1", signed by the npm builder's own signer; other versions and
// mis-padded keys stay refused.
func TestTMobileLibrariesVersionV1AndPaddedJWK(t *testing.T) {
	env, admin := adminEnv(t, taap.DefaultConfig())
	key := testKeys()[0]
	jwk := func(n, e string) string {
		b, _ := json.Marshal(map[string]string{"kty": "RSA", "n": n, "e": e})
		return string(b)
	}
	nb, eb := key.N.Bytes(), big.NewInt(int64(key.E)).Bytes()
	if len(nb)%3 == 0 {
		t.Fatal("the test key's modulus needs no padding")
	}
	padded, unpadded := base64.URLEncoding.EncodeToString(nb), base64.RawURLEncoding.EncodeToString(nb)
	ePadded := base64.URLEncoding.EncodeToString(eb) // 65537: three bytes, no padding either way
	for _, tc := range []struct {
		name, jwk string
		ok        bool
		reason    string // a fragment of the refusal
	}{
		{"n padded (Java Base64.getUrlEncoder)", jwk(padded, ePadded), true, ""},
		{"n unpadded (RFC 7518)", jwk(unpadded, base64.RawURLEncoding.EncodeToString(eb)), true, ""},
		{"n with one '=' too few", jwk(strings.TrimSuffix(padded, "="), ePadded), false, "base64url"},
		{"padded, 1024 bits (the size check still applies)", jwk(base64.URLEncoding.EncodeToString(keytest.FakeRSAKey(1024).N.Bytes()), ePadded), false, "2048 to 4096 bits"},
		{"n with one '=' too many", jwk(padded+"=", ePadded), false, "base64url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := adminPost(t, env, admin, taap.RouteClients, map[string]any{"name": "jwk " + core.NewID()[:6], "public_keys": []string{tc.jwk}})
			if tc.ok && r.status != 201 {
				t.Fatalf("refused: %d %v", r.status, r.body)
			}
			if !tc.ok && (r.status != 400 || r.code() != "invalid_request" || !strings.Contains(r.desc(), tc.reason)) {
				t.Fatalf("accepted or wrong refusal: %d %v", r.status, r.body)
			}
		})
	}

	r := adminPost(t, env, admin, taap.RouteClients, map[string]any{"name": "java client", "public_keys": []string{jwk(padded, ePadded)}, "scope": "iot-connectivity"})
	if r.status != 201 {
		t.Fatalf("register: %d %v", r.status, r.body)
	}
	if tps, _ := r.body["key_thumbprints"].([]any); len(tps) != 1 || tps[0] != taap.Thumbprint(&key.PublicKey) {
		t.Fatalf("the padded JWK registered another key: %v", r.body)
	}
	id, secret := r.body["client_id"].(string), r.body["client_secret"].(string)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	parts := [][2]string{{"Authorization", basic}, {"uri", taap.RouteToken}, {"http-method", "POST"}}
	tokenReq := func(popToken string) result {
		req, _ := http.NewRequest("POST", env.URL+taap.RouteToken, nil)
		req.Header.Set("Authorization", basic)
		req.Header.Set("X-Authorization", popToken)
		return send(t, req)
	}
	keyPEM := pkcs8PEM(t, key)
	for _, tc := range []struct {
		name string
		v    any
		ok   bool
	}{
		{`"v1"`, "v1", true},
		{`"1"`, "1", true},
		{"number 1", 1, true},
		{`"v2"`, "v2", false},
		{`"2"`, "2", false},
		{`"V1"`, "V1", false},
		{"number 2", 2, false},
	} {
		t.Run("v "+tc.name, func(t *testing.T) {
			r := tokenReq(npmBuildV(t, keyPEM, tc.v, parts)[0])
			if tc.ok {
				if r.status != 200 || r.body["access_token"] == nil {
					t.Fatalf("refused: %d %v", r.status, r.body)
				}
				return
			}
			wantPoPFailure(t, r, taap.CheckVersion)
		})
	}
}
