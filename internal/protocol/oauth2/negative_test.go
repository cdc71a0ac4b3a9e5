package oauth2_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// TestNegative checks each failure's status, RFC 6749 error body and
// challenge header.
func TestNegative(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Negative Org")
			Form := func(kv ...string) string {
				v := url.Values{}
				for i := 0; i+1 < len(kv); i += 2 {
					v.Set(kv[i], kv[i+1])
				}
				return v.Encode()
			}

			type tc struct {
				name      string
				setup     func() (method, path string, header map[string]string, body string)
				status    int
				code      string
				desc      string // substring of error_description
				challenge string // prefix of WWW-Authenticate ("" = must be absent)
			}
			tokenReq := func(body string) func() (string, string, map[string]string, string) {
				return func() (string, string, map[string]string, string) { return "POST", "/oauth/token", formHeader(), body }
			}
			cases := []tc{
				{name: "wrong secret", setup: tokenReq(Form("grant_type", "password", "username", key, "password", "not-the-secret")),
					status: 400, code: "invalid_grant", desc: "invalid key or secret"},
				{name: "unknown key", setup: tokenReq(Form("grant_type", "password", "username", "no-such-key", "password", secret)),
					status: 400, code: "invalid_grant", desc: "invalid key or secret"},
				{name: "wrong client secret (Basic)", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/token", with(formHeader(), "Authorization", basic(key, "wrong")), Form("grant_type", "client_credentials")
				}, status: 401, code: "invalid_client", desc: "invalid key or secret", challenge: `Basic realm="authgate"`},
				{name: "client credentials without client", setup: tokenReq(Form("grant_type", "client_credentials")),
					status: 401, code: "invalid_client", desc: "client authentication required", challenge: "Basic"},
				{name: "client in header and form", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/token", with(formHeader(), "Authorization", basic(key, secret)), Form("grant_type", "client_credentials", "client_id", key, "client_secret", secret)
				}, status: 400, code: "invalid_request", desc: "one place"},
				{name: "missing grant_type", setup: tokenReq(Form("username", key)), status: 400, code: "invalid_request", desc: "grant_type is required"},
				{name: "unsupported grant", setup: tokenReq(Form("grant_type", "authorization_code", "code", "x")), status: 400, code: "unsupported_grant_type"},
				{name: "malformed form escape", setup: tokenReq("grant_type=password&username=%zz&password=x"), status: 400, code: "invalid_request", desc: "malformed form body"},
				{name: "repeated parameter", setup: tokenReq("grant_type=password&grant_type=password&username=a&password=b"), status: 400, code: "invalid_request", desc: "repeated"},
				{name: "password grant without password", setup: tokenReq(Form("grant_type", "password", "username", key)), status: 400, code: "invalid_request", desc: "required"},
				{name: "oversized body", setup: tokenReq("grant_type=password&username=" + strings.Repeat("a", 20<<10)), status: 413, code: "invalid_request", desc: "too large"},
				{name: "wrong content type", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/token", map[string]string{"Content-Type": "application/json"}, `{"grant_type":"password"}`
				}, status: 415, code: "invalid_request", desc: "application/x-www-form-urlencoded"},
				{name: "no content type", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/token", nil, Form("grant_type", "password")
				}, status: 415, code: "invalid_request"},
				{name: "non-UTF-8 charset", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=iso-8859-1"}, Form("grant_type", "password")
				}, status: 400, code: "invalid_request", desc: "UTF-8"},
				{name: "unknown refresh token", setup: tokenReq(Form("grant_type", "refresh_token", "refresh_token", "bogus")), status: 400, code: "invalid_grant", desc: "invalid token"},
				{name: "access token as refresh token", setup: tokenReq(Form("grant_type", "refresh_token", "refresh_token", adminTok)), status: 400, code: "invalid_grant", desc: "invalid token"},
				{name: "no bearer on protected route", setup: func() (string, string, map[string]string, string) {
					return "GET", "/accesskeys", nil, ""
				}, status: 401, code: "invalid_request", challenge: `Bearer realm="authgate"`},
				{name: "unknown bearer token", setup: func() (string, string, map[string]string, string) {
					return "GET", "/accesskeys", bearer("bogus"), ""
				}, status: 401, code: "invalid_token", desc: "invalid token", challenge: `Bearer realm="authgate", error="invalid_token"`},
				{name: "malformed bearer", setup: func() (string, string, map[string]string, string) {
					return "GET", "/accesskeys", map[string]string{"Authorization": "Bearer a b"}, ""
				}, status: 401, code: "invalid_request", challenge: "Bearer"},
				{name: "introspect without auth", setup: tokenReqTo("/oauth/introspect", Form("token", adminTok)), status: 401, code: "invalid_client", challenge: "Basic"},
				{name: "revoke without token", setup: func() (string, string, map[string]string, string) {
					return "POST", "/oauth/revoke", with(formHeader(), "Authorization", basic(key, secret)), ""
				}, status: 400, code: "invalid_request", desc: "token is required"},
				{name: "accesskeys wrong content type", setup: func() (string, string, map[string]string, string) {
					return "POST", "/accesskeys", with(bearer(adminTok), "Content-Type", "text/plain"), `{"Name":"x"}`
				}, status: 415, code: "unsupported_media_type"},
				{name: "accesskeys malformed JSON", setup: func() (string, string, map[string]string, string) {
					return "POST", "/accesskeys", with(bearer(adminTok), "Content-Type", "application/vnd.imgtec.accesskey+json"), `{"Name":`
				}, status: 400, code: "invalid_request"},
				{name: "accesskeys bad paging", setup: func() (string, string, map[string]string, string) {
					return "GET", "/accesskeys?pageSize=0", bearer(adminTok), ""
				}, status: 400, code: "invalid_request", desc: "pageSize"},
				{name: "unknown access key", setup: func() (string, string, map[string]string, string) {
					return "GET", "/accesskeys/nope", bearer(adminTok), ""
				}, status: 404, code: "not_found"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					method, path, header, body := c.setup()
					r := e.do(method, path, header, body)
					checkError(t, r, c.status, c.code, c.desc, c.challenge)
				})
			}
		})
	}
}

func tokenReqTo(path, body string) func() (string, string, map[string]string, string) {
	return func() (string, string, map[string]string, string) { return "POST", path, formHeader(), body }
}

func checkError(t *testing.T, r resp, status int, code, desc, challenge string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error = %v, want %s; body %s", m["error"], code, r.Body)
	}
	if d, _ := m["error_description"].(string); !strings.Contains(d, desc) {
		t.Fatalf("error_description = %q, want it to contain %q", d, desc)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	got := r.Header.Get("WWW-Authenticate")
	switch {
	case challenge == "" && got != "":
		t.Fatalf("unexpected WWW-Authenticate %q", got)
	case !strings.HasPrefix(got, challenge):
		t.Fatalf("WWW-Authenticate = %q, want prefix %q", got, challenge)
	}
	if status == 401 && got == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

func basic(id, secret string) string {
	return "Basic " + b64(url.QueryEscape(id)+":"+url.QueryEscape(secret))
}

// TestTokenLifecycleFailures covers expired, revoked, reused and misused tokens.
func TestTokenLifecycleFailures(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Lifecycle Org")

			t.Run("expired access token", func(t *testing.T) {
				access, _ := e.passwordGrant(key, secret)
				e.Clock.Advance(time.Hour)
				checkError(t, e.do("GET", "/accesskeys", bearer(access), ""), 401, "invalid_token", "token expired", `Bearer realm="authgate", error="invalid_token"`)
			})
			t.Run("expired refresh token", func(t *testing.T) {
				e2 := start(t, backend(t), true, func(c *oauth2Config) { c.RefreshTokenTTL = 2 * time.Hour })
				_, rt := e2.passwordGrant(e2.Admin.Key, e2.Admin.Secret)
				e2.Clock.Advance(2 * time.Hour)
				checkError(t, e2.refresh(rt), 400, "invalid_grant", "token expired", "")
			})
			t.Run("revoked access token", func(t *testing.T) {
				access, _ := e.passwordGrant(key, secret)
				r := e.do("POST", "/oauth/revoke", with(formHeader(), "Authorization", basic(key, secret)), url.Values{"token": {access}}.Encode())
				if r.Status != 200 {
					t.Fatalf("revoke: %d %s", r.Status, r.Body)
				}
				checkError(t, e.do("GET", "/accesskeys", bearer(access), ""), 401, "invalid_token", "token revoked", "Bearer")
			})
			t.Run("refresh token as bearer", func(t *testing.T) {
				_, rt := e.passwordGrant(key, secret)
				checkError(t, e.do("GET", "/accesskeys", bearer(rt), ""), 401, "invalid_token", "invalid token", "Bearer")
			})
			t.Run("reused refresh token revokes the family", func(t *testing.T) {
				access1, rt1 := e.passwordGrant(key, secret)
				r := e.refresh(rt1)
				if r.Status != 200 {
					t.Fatalf("first refresh: %d %s", r.Status, r.Body)
				}
				m := r.json(t)
				access2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
				e.Clock.Advance(11 * time.Second) // outside the 10 s grace window
				checkError(t, e.refresh(rt1), 400, "invalid_grant", "already used", "")
				// Every token of the family is dead now, the legitimate new pair too.
				checkError(t, e.refresh(rt2), 400, "invalid_grant", "token revoked", "")
				for _, a := range []string{access1, access2} {
					checkError(t, e.do("GET", "/accesskeys", bearer(a), ""), 401, "invalid_token", "token revoked", "Bearer")
				}
				// The reuse is in the audit log.
				events, err := e.Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditRevoke, Protocol: "oauth2"})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, ev := range events {
					found = found || strings.Contains(ev.Reason, "reuse detected")
				}
				if !found {
					t.Fatal("refresh token reuse not audited")
				}
				// A new password grant still works: the key itself is fine.
				e.passwordGrant(key, secret)
			})
			t.Run("deleted key", func(t *testing.T) {
				adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret) // the first one expired above
				k2, s2 := e.createKey(adminTok, "Short-lived")
				access, rt := e.passwordGrant(k2, s2)
				r := e.do("DELETE", "/accesskeys/"+k2, bearer(adminTok), "")
				if r.Status != 204 {
					t.Fatalf("delete: %d %s", r.Status, r.Body)
				}
				checkError(t, e.do("GET", "/accesskeys", bearer(access), ""), 401, "invalid_token", "token revoked", "Bearer")
				checkError(t, e.refresh(rt), 400, "invalid_grant", "", "")
				checkError(t, e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"password"}, "username": {k2}, "password": {s2}}.Encode()),
					400, "invalid_grant", "invalid key or secret", "")
			})
		})
	}
}
