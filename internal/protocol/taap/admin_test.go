package taap_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/sdk/pop"
)

// TestAdminAPI registers a client and a SIM over HTTP with the bootstrap
// admin's OAuth2 access token; without a token the API answers 401.
func TestAdminAPI(t *testing.T) {
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{o, taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	resp, err := http.PostForm(env.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {env.Admin.Key}, "password": {env.Admin.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no admin token: %d", resp.StatusCode)
	}
	post := func(path, bearer string, body any) result {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return send(t, req)
	}
	pem := string(pop.PublicKeyPEM(testKeys()[0]))
	if r := post(taap.RouteClients, "", map[string]any{"name": "x", "public_keys": []string{pem}}); r.status != 401 {
		t.Fatalf("no token: %d %v", r.status, r.body)
	}
	r := post(taap.RouteClients, tok.AccessToken, map[string]any{"name": "api client", "public_keys": []string{pem}, "scope": "iot-connectivity"})
	if r.status != 201 || r.body["client_id"] == "" || r.body["client_secret"] == "" {
		t.Fatalf("create client: %d %v", r.status, r.body)
	}
	if bad := post(taap.RouteClients, tok.AccessToken, map[string]any{"name": "weak", "public_keys": []string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}); bad.status != 400 {
		t.Fatalf("bad key: %d %v", bad.status, bad.body)
	}
	if k := post(taap.RouteClients+"/"+r.body["client_id"].(string)+"/keys", tok.AccessToken, map[string]any{"public_key": string(pop.PublicKeyPEM(testKeys()[1]))}); k.status != 201 {
		t.Fatalf("add key: %d %v", k.status, k.body)
	}
	s := post(taap.RouteSIMs, tok.AccessToken, map[string]any{"org_id": r.body["org_id"], "iccid": testICCID, "msisdn": "+14255550100"})
	if s.status != 201 || s.body["iccid"] != testICCID {
		t.Fatalf("add SIM: %d %v", s.status, s.body)
	}
	if s := post(taap.RouteSIMs, tok.AccessToken, map[string]any{"org_id": r.body["org_id"], "iccid": "89012601234567890120"}); s.status != 400 && testICCID != "89012601234567890120" {
		t.Fatalf("bad ICCID: %d %v", s.status, s.body)
	}
}
