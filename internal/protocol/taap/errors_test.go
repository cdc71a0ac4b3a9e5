package taap_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// TestErrorAnswers checks the error shape at the edge: PoP failures are
// 401 invalid_pop_token with a PoP challenge; client authentication
// failures 401 invalid_client with a Basic challenge; missing or unknown
// access tokens 401 with a Bearer challenge; each one audited with its
// reason. The debug option echoes the canonical string over the wire.
func TestErrorAnswers(t *testing.T) {
	cfg := taap.DefaultConfig()
	cfg.DebugCanonical = true
	f := newFixture(t, fixtureOpts{cfg: &cfg})
	ctx := context.Background()
	tr := f.accessToken(t)
	device := "/iot-connectivity/v1/devices/" + testICCID

	signed := func(t *testing.T, edit func(*http.Request)) *http.Request {
		req, err := f.sdk.NewRequest(ctx, "GET", device, nil, tr.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(req)
		}
		return req
	}
	tokenReq := func(id, secret string, withPoP bool) *http.Request {
		req, _ := http.NewRequest("POST", f.env.URL+taap.RouteToken, nil)
		req.SetBasicAuth(id, secret)
		if withPoP {
			if err := f.sdk.Builder.Sign(req, "Authorization"); err != nil {
				t.Fatal(err)
			}
		}
		return req
	}

	t.Run("no X-Authorization", func(t *testing.T) {
		r := send(t, signed(t, func(r *http.Request) { r.Header.Del("X-Authorization") }))
		wantPoPFailure(t, r, taap.CheckPresent)
		if got := f.lastFailure(t); !strings.HasPrefix(got, "pop present: ") {
			t.Fatalf("audit %q", got)
		}
	})
	t.Run("edts mismatch echoes the canonical string", func(t *testing.T) {
		r := send(t, signed(t, func(r *http.Request) { r.URL.RawQuery = "verbose=1" }))
		wantPoPFailure(t, r, taap.CheckEDTS)
		canon, _ := r.body["server_canonical"].(string)
		if !strings.HasPrefix(canon, "<Authorization: Bearer ...,") || !strings.HasSuffix(canon, device+"?verbose=1GET") {
			t.Fatalf("server_canonical %q", canon)
		}
		if strings.Contains(canon, tr.AccessToken) || strings.Contains(r.challenge, tr.AccessToken) {
			t.Fatal("access token echoed")
		}
	})
	t.Run("expired", func(t *testing.T) {
		req := signed(t, nil)
		f.env.Clock.Advance(131 * time.Second) // exp = iat + 120, skew 10 s
		defer f.env.Clock.Advance(-131 * time.Second)
		wantPoPFailure(t, send(t, req), taap.CheckExpiry)
	})
	t.Run("not yet valid", func(t *testing.T) {
		f.env.Clock.Advance(time.Minute)
		req := signed(t, nil)
		f.env.Clock.Advance(-time.Minute)
		wantPoPFailure(t, send(t, req), taap.CheckIssuedAt)
	})
	t.Run("no bearer token", func(t *testing.T) {
		r := send(t, signed(t, func(r *http.Request) { r.Header.Del("Authorization") }))
		if r.status != 401 || r.code() != "invalid_request" || !strings.HasPrefix(r.challenge, `Bearer realm="authgate", error="invalid_request"`) {
			t.Fatalf("%d %v %q", r.status, r.body, r.challenge)
		}
	})
	t.Run("unknown access token", func(t *testing.T) {
		r := send(t, signed(t, func(r *http.Request) { r.Header.Set("Authorization", "Bearer not-a-token") }))
		if r.status != 401 || r.code() != "invalid_token" || !strings.HasPrefix(r.challenge, `Bearer realm="authgate", error="invalid_token"`) {
			t.Fatalf("%d %v %q", r.status, r.body, r.challenge)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		r := send(t, tokenReq(f.client.ClientID, "wrong", true))
		if r.status != 401 || r.code() != "invalid_client" || !strings.HasPrefix(r.challenge, `Basic realm="authgate", error="invalid_client"`) {
			t.Fatalf("%d %v %q", r.status, r.body, r.challenge)
		}
		if strings.Contains(r.desc(), "wrong") {
			t.Fatal("secret echoed")
		}
	})
	t.Run("token endpoint without PoP", func(t *testing.T) {
		wantPoPFailure(t, send(t, tokenReq(f.client.ClientID, f.client.ClientSecret, false)), taap.CheckPresent)
	})
	t.Run("disabled client", func(t *testing.T) {
		if err := f.env.Svc.Store.SetPrincipalDisabled(ctx, f.client.PrincipalID, true); err != nil {
			t.Fatal(err)
		}
		f.env.Clock.Advance(2 * time.Second) // past client_cache_ttl
		defer func() { _ = f.env.Svc.Store.SetPrincipalDisabled(ctx, f.client.PrincipalID, false) }()
		r := send(t, tokenReq(f.client.ClientID, f.client.ClientSecret, true))
		wantPoPFailure(t, r, taap.CheckClient)
		// Its access token, still unexpired, no longer opens the resource.
		r = send(t, signed(t, nil))
		wantPoPFailure(t, r, taap.CheckClient)
		if !strings.Contains(r.desc(), "disabled") || f.lastFailure(t) != "pop client: the client is disabled" {
			t.Fatalf("%v / audit %q", r.body, f.lastFailure(t))
		}
	})
}
