package taap_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// TestDiscoveryTellsAClientWhatToSign: the discovery document advertised
// only the token endpoint. A client that knows the issuer, its
// credentials and its key now learns from it everything it needs, and
// uses each of it with T-Mobile's npm builder: the PoP header and the
// ehts parts each route requires, the scope, the grant types (both are
// exercised), the lifetime bound (the builder's 120 s fits). Nothing is
// advertised that the server does not serve: no authorization,
// introspection or revocation endpoint (TAAP tokens have none).
func TestDiscoveryTellsAClientWhatToSign(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.env.Clock.Set(time.Now()) // the npm builder reads the real clock
	keyPEM := pkcs8PEM(t, f.key)

	resp, err := http.Get(f.env.URL + taap.RouteOIDC)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	err = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	want := []string{"claims_supported", "grant_types_supported", "id_token_signing_alg_values_supported", "issuer", "jwks_uri",
		"pop_ehts_pseudo_headers_supported", "pop_max_lifetime", "pop_required_ehts", "pop_required_ehts_when_present",
		"pop_signing_alg_values_supported", "pop_token_header", "response_types_supported", "scopes_supported", "subject_types_supported",
		"token_endpoint", "token_endpoint_auth_methods_supported"}
	if !slices.Equal(names, want) {
		t.Fatalf("metadata members %v, want %v", names, want)
	}
	var md struct {
		TokenEndpoint string              `json:"token_endpoint"`
		JWKSURI       string              `json:"jwks_uri"`
		Scopes        []string            `json:"scopes_supported"`
		GrantTypes    []string            `json:"grant_types_supported"`
		AuthMethods   []string            `json:"token_endpoint_auth_methods_supported"`
		PoPAlgs       []string            `json:"pop_signing_alg_values_supported"`
		PoPHeader     string              `json:"pop_token_header"`
		Pseudo        []string            `json:"pop_ehts_pseudo_headers_supported"`
		Required      map[string][]string `json:"pop_required_ehts"`
		WhenPresent   []string            `json:"pop_required_ehts_when_present"`
		MaxLifetime   int64               `json:"pop_max_lifetime"`
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(md.AuthMethods, []string{"client_secret_basic"}) || !slices.Equal(md.PoPAlgs, []string{"RS256"}) || md.MaxLifetime < 120 ||
		!slices.Equal(md.Pseudo, []string{"uri", "http-method", "body"}) || !slices.Equal(md.WhenPresent, []string{"Authorization", "body"}) {
		t.Fatalf("metadata %+v", md)
	}
	if r, err := http.Get(md.JWKSURI); err != nil || r.StatusCode != 200 {
		t.Fatalf("jwks_uri: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// sign builds a PoP token over the parts the metadata asks for on
	// route, plus those it requires when present.
	sign := func(route string, req *http.Request, body string) string {
		t.Helper()
		parts := append([]string(nil), md.Required[route]...)
		if len(parts) == 0 {
			t.Fatalf("no required parts advertised for %s: %v", route, md.Required)
		}
		for _, p := range md.WhenPresent {
			if (p == "body" && body != "" || p != "body" && req.Header.Get(p) != "") && !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
		var kv [][2]string
		for _, p := range parts {
			switch p {
			case "uri":
				kv = append(kv, [2]string{p, req.URL.RequestURI()})
			case "http-method":
				kv = append(kv, [2]string{p, req.Method})
			case "body":
				kv = append(kv, [2]string{p, body})
			default:
				kv = append(kv, [2]string{p, req.Header.Get(p)})
			}
		}
		return npmNow(t, f, keyPEM, kv)[0]
	}
	tokenURL, _ := url.Parse(md.TokenEndpoint)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.client.ClientID+":"+f.client.ClientSecret))
	grant := func(body string) result {
		t.Helper()
		req, _ := http.NewRequest("POST", md.TokenEndpoint, strings.NewReader(body))
		req.Header.Set("Authorization", basic)
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set(md.PoPHeader, sign(tokenURL.Path, req, body))
		return send(t, req)
	}
	var access string
	for _, gt := range md.GrantTypes {
		var r result
		switch gt {
		case "client_credentials":
			r = grant("grant_type=client_credentials")
		case "refresh_token":
			first := grant("")
			if first.status != 200 {
				t.Fatalf("empty-body grant: %d %v", first.status, first.body)
			}
			r = grant(url.Values{"grant_type": {gt}, "refresh_token": {first.body["refresh_token"].(string)}}.Encode())
		default:
			t.Fatalf("advertised grant type %q is not one a TAAP client can use", gt)
		}
		if r.status != 200 || r.body["scope"] != md.Scopes[0] {
			t.Fatalf("grant %s: %d %v (scopes_supported %v)", gt, r.status, r.body, md.Scopes)
		}
		access = r.body["access_token"].(string)
	}

	uri := strings.Replace(taap.RouteDevice, "{iccid}", testICCID, 1)
	req, _ := http.NewRequest("GET", f.env.URL+uri, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set(md.PoPHeader, sign(taap.RouteDevice, req, ""))
	if r := send(t, req); r.status != 200 || r.body["iccid"] != testICCID {
		t.Fatalf("resource with the advertised parts: %d %v", r.status, r.body)
	}
}
