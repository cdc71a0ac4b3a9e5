package oauth2_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/agtest"
)

// With no public_url, the entry point's links and the Location of a new
// key followed the Host header (a poisoned cache or a phishing link away
// from handing out evil.example URLs). They name the address the request
// arrived on.
func TestAttack_HostHeaderMintsLinks(t *testing.T) {
	e := start(t, agtest.Options{}, false, nil)
	adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	do := func(method, path string, header map[string]string, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		req.Host = "evil.example"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"anonymous entry point", "GET", "/", "", nil},
		{"admin entry point", "GET", "/", "", bearer(adminTok)},
		{"key listing", "GET", "/accesskeys", "", bearer(adminTok)},
		{"new key", "POST", "/accesskeys", `{"Name":"Host test"}`, with(bearer(adminTok), "Content-Type", "application/json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(tc.method, tc.path, tc.header, tc.body)
			if res.StatusCode >= 300 {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			if strings.Contains(body, "evil.example") || strings.Contains(res.Header.Get("Location"), "evil.example") {
				t.Fatalf("answer names the Host header: Location %q, body %s", res.Header.Get("Location"), body)
			}
			if !strings.Contains(body, `"href":"`+e.URL+`/`) {
				t.Fatalf("links do not name the server's address %s: %s", e.URL, body)
			}
		})
	}
}
