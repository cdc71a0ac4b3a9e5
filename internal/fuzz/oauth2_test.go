package fuzz

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/oauth2"
)

// FuzzOAuth2TokenRequest feeds arbitrary form bodies and Authorization
// headers to the parsers of untrusted token-endpoint input. They must never
// panic, and what they accept must respect their invariants.
func FuzzOAuth2TokenRequest(f *testing.F) {
	f.Add("grant_type=password&username=k&password=s", "Basic Og==")
	f.Add("grant_type=refresh_token&refresh_token=abc%2Bdef", "Bearer abc")
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b", "Basic YTpi")
	f.Add("a=1&a=2", "basic !!!")
	f.Add("%zz=1;x", "Bearer a b")
	f.Add("=&&==&x=%", "Basic "+strings.Repeat("A", 20000))
	f.Add("token=x&token_type_hint=refresh_token", "BEARER dG9rZW4=")
	f.Fuzz(func(t *testing.T, body, authz string) {
		fm, err := oauth2.ParseForm(body)
		if err != nil {
			if err.Status != http.StatusBadRequest || err.Code != "invalid_request" {
				t.Fatalf("parseForm error %+v", err)
			}
			return
		}
		for k, v := range fm {
			if k == "" || v == "" || len(k) > 64 || len(v) > oauth2.MaxParamLen {
				t.Fatalf("parseForm kept %q=%q", k, v)
			}
		}
		r, _ := http.NewRequest("POST", "http://x/oauth/token", nil)
		r.Header.Set("Authorization", authz)
		c, ok, cerr := oauth2.ParseClientAuth(r, fm)
		if cerr == nil && ok && c.ID == "" && c.Secret == "" {
			t.Fatal("empty client credentials reported present")
		}
		if cerr != nil && cerr.Status != 400 && cerr.Status != 401 {
			t.Fatalf("parseClientAuth error %+v", cerr)
		}
		if tok, present := oauth2.BearerToken(r); tok != "" && (!present || !oauth2.IsToken68(tok) || strings.ContainsAny(tok, " \t")) {
			t.Fatalf("bearerToken accepted %q", tok)
		}
	})
}
