package oauth2

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzTokenRequestParsing feeds arbitrary form bodies and Authorization
// headers to the parsers of untrusted token-endpoint input. They must never
// panic, and what they accept must respect their invariants.
func FuzzTokenRequestParsing(f *testing.F) {
	f.Add("grant_type=password&username=k&password=s", "Basic Og==")
	f.Add("grant_type=refresh_token&refresh_token=abc%2Bdef", "Bearer abc")
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b", "Basic YTpi")
	f.Add("a=1&a=2", "basic !!!")
	f.Add("%zz=1;x", "Bearer a b")
	f.Add("=&&==&x=%", "Basic "+strings.Repeat("A", 20000))
	f.Add("token=x&token_type_hint=refresh_token", "BEARER dG9rZW4=")
	f.Fuzz(func(t *testing.T, body, authz string) {
		fm, err := parseForm(body)
		if err != nil {
			if err.Status != http.StatusBadRequest || err.Code != codeInvalidRequest {
				t.Fatalf("parseForm error %+v", err)
			}
			return
		}
		for k, v := range fm {
			if k == "" || v == "" || len(k) > 64 || len(v) > maxParamLen {
				t.Fatalf("parseForm kept %q=%q", k, v)
			}
		}
		r, _ := http.NewRequest("POST", "http://x/oauth/token", nil)
		r.Header.Set("Authorization", authz)
		c, ok, cerr := parseClientAuth(r, fm)
		if cerr == nil && ok && c.ID == "" && c.Secret == "" {
			t.Fatal("empty client credentials reported present")
		}
		if cerr != nil && cerr.Status != 400 && cerr.Status != 401 {
			t.Fatalf("parseClientAuth error %+v", cerr)
		}
		if tok, present := bearerToken(r); tok != "" && (!present || !isToken68(tok) || strings.ContainsAny(tok, " \t")) {
			t.Fatalf("bearerToken accepted %q", tok)
		}
	})
}

func TestParseFormStrict(t *testing.T) {
	tests := []struct {
		body    string
		want    form
		wantErr string
	}{
		{"grant_type=password&username=a%2Bb&password=c+d", form{"grant_type": "password", "username": "a+b", "password": "c d"}, ""},
		{"scope=&grant_type=x", form{"grant_type": "x"}, ""},
		{"a=1&&b=2", form{"a": "1", "b": "2"}, ""},
		{"a=1&a=2", nil, "repeated"},
		{"a=&a=2", nil, "repeated"},
		{"a=%zz", nil, "malformed"},
		{"a=1;b=2", nil, "malformed"},
		{"=x", nil, "malformed"},
	}
	for _, tt := range tests {
		got, err := parseForm(tt.body)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Description, tt.wantErr) {
				t.Errorf("parseForm(%q) err = %v, want %q", tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("parseForm(%q) = %v, %v", tt.body, got, err)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("parseForm(%q)[%s] = %q, want %q", tt.body, k, got[k], v)
			}
		}
	}
}
