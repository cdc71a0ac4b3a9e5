package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// The console signs in with the OAuth2 family's own password grant.
var _ console.Granter = (*oauth2.Module)(nil)

type env struct {
	*agtest.Env
	con *console.Module
}

// start serves the console (and the oauth2 module whose grant it uses)
// on loopback.
func start(t *testing.T, opt agtest.Options) *env {
	t.Helper()
	var con *console.Module
	e := agtest.Start(t, opt, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		con = console.New(console.DefaultConfig(), console.Deps{Grant: o, Tokens: svc.Tokens, Audit: svc.Audit, Keys: svc.Keys,
			Clock: svc.Clock, Log: svc.Log, Routes: func() []adminapi.Route {
				return []adminapi.Route{{Method: "GET", Path: "/admin/audit", Action: core.ActAuditRead}, {Method: "POST", Path: "/admin/ca/certificates", Action: core.ActCAIssue}}
			}})
		return []httpapi.Module{o, con}
	})
	return &env{Env: e, con: con}
}

func post(t *testing.T, url, ctype, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func signInBody(key, secret string) string {
	b, _ := json.Marshal(map[string]string{"access_key": key, "secret": secret})
	return string(b)
}

// signIn signs the bootstrap admin in and returns the session cookie and info.
func (e *env) signIn(t *testing.T, key, secret string) (*http.Cookie, console.SessionInfo) {
	t.Helper()
	resp := post(t, e.URL+console.RouteSession, "application/json", signInBody(key, secret), nil)
	body := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	var info console.SessionInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			return c, info
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil, info
}

// TestSignInSetsSessionCookie: the cookie is HttpOnly, Secure,
// SameSite=Strict, Path=/, no Domain, and lives as long as the access token
// it holds; the answer names the admin and its CSRF token, which GET
// /console/session gives again.
func TestSignInSetsSessionCookie(t *testing.T) {
	e := start(t, agtest.Options{ManualClock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie flags: %+v", c)
	}
	tok, err := e.Svc.Tokens.Lookup(context.Background(), core.TokenAccess, c.Value)
	if err != nil {
		t.Fatalf("the cookie holds no valid access token: %v", err)
	}
	if !c.Expires.Equal(*tok.ExpiresAt) || c.MaxAge != int(oauth2.DefaultConfig().AccessTokenTTL/time.Second) {
		t.Fatalf("cookie expiry %v / max-age %d, token expires %v", c.Expires, c.MaxAge, tok.ExpiresAt)
	}
	if info.Kind != "admin" || info.ReadOnly || info.OrgID != e.Admin.OrgID || info.CSRFToken == "" || !info.ExpiresAt.Equal(*tok.ExpiresAt) ||
		len(info.Routes) != 2 || info.TailIntervalMS != 2000 {
		t.Fatalf("session info %+v", info)
	}
	req, _ := http.NewRequest("GET", e.URL+console.RouteSession, nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var again console.SessionInfo
	_ = json.Unmarshal([]byte(readAll(t, resp)), &again)
	if resp.StatusCode != 200 || again.CSRFToken != info.CSRFToken || again.PrincipalID != info.PrincipalID {
		t.Fatalf("GET session: %d %+v", resp.StatusCode, again)
	}
	// The grant was audited as the password grant's.
	events, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditIssue, Limit: 10})
	if err != nil || len(events) != 1 || events[0].Subject != tok.ID || !strings.Contains(events[0].Reason, "console sign-in (password grant)") {
		t.Fatalf("issue audit: %+v %v", events, err)
	}
}

// TestSignInFailuresAreGeneric: a wrong secret, an unknown key, a revoked
// key, a disabled principal and empty fields all get one answer, and each
// attempt is audited.
func TestSignInFailuresAreGeneric(t *testing.T) {
	e := start(t, agtest.Options{})
	ctx := context.Background()
	org, _ := e.Svc.CreateOrganisation(ctx, "acme")
	p, _ := e.Svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "bob")
	revoked, revokedSecret, _ := e.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
	if _, err := e.Svc.RevokeCredential(ctx, revoked, core.Revocation{}); err != nil {
		t.Fatal(err)
	}
	cases := map[string][2]string{
		"wrong secret":  {e.Admin.Key, e.Admin.Secret + "x"},
		"unknown key":   {"no-such-key", "whatever"},
		"revoked key":   {revoked.Lookup, revokedSecret},
		"empty secret":  {e.Admin.Key, ""},
		"empty key":     {"", "x"},
		"huge key":      {strings.Repeat("k", 5000), "x"},
		"control chars": {"a\x00\n\x1b[31m", "x"},
	}
	var first string
	for name, c := range cases {
		resp := post(t, e.URL+console.RouteSession, "application/json", signInBody(c[0], c[1]), nil)
		body := readAll(t, resp)
		if resp.StatusCode != 401 || !strings.Contains(body, "invalid access key or secret") || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d %s %v", name, resp.StatusCode, body, resp.Cookies())
		}
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%s: answer %q differs from %q", name, body, first)
		}
	}
	events, _ := e.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditAuthFailure, Limit: 100})
	n := 0
	for _, ev := range events {
		if strings.Contains(ev.Reason, "console sign-in") {
			n++
		}
	}
	if n != len(cases) {
		t.Fatalf("%d of %d failed sign-ins audited: %+v", n, len(cases), events)
	}
}

// TestSignInIsRateLimited: the password grant's failed-authentication
// limits apply; past them even the right secret is refused (429 with
// Retry-After) until the window passes.
func TestSignInIsRateLimited(t *testing.T) {
	e := start(t, agtest.Options{ManualClock: time.Now(), AuthLimits: core.GuardLimits{Pair: 3, Address: 100, Credential: 100, Window: time.Minute}})
	for range 3 {
		readAll(t, post(t, e.URL+console.RouteSession, "application/json", signInBody(e.Admin.Key, "wrong"), nil))
	}
	resp := post(t, e.URL+console.RouteSession, "application/json", signInBody(e.Admin.Key, e.Admin.Secret), nil)
	body := readAll(t, resp)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many failed sign-ins") || len(resp.Cookies()) != 0 {
		t.Fatalf("after the limit: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	e.Clock.Advance(2 * time.Minute)
	e.signIn(t, e.Admin.Key, e.Admin.Secret)
}

// TestAttack_SignInFromAnotherSite: a cross-site HTML form cannot sign a
// browser in (login CSRF): a form body is refused, and so is a request the
// browser marks as cross-site; oversized and malformed bodies are refused.
func TestAttack_SignInFromAnotherSite(t *testing.T) {
	e := start(t, agtest.Options{})
	form := "access_key=" + e.Admin.Key + "&secret=" + e.Admin.Secret
	for _, c := range []struct {
		name, ctype, body string
		hdr               map[string]string
		status            int
	}{
		{"form post", "application/x-www-form-urlencoded", form, nil, 400},
		{"text/plain post", "text/plain", signInBody(e.Admin.Key, e.Admin.Secret), nil, 400},
		{"no content type", "", signInBody(e.Admin.Key, e.Admin.Secret), nil, 400},
		{"cross-site fetch", "application/json", signInBody(e.Admin.Key, e.Admin.Secret), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch", "application/json", signInBody(e.Admin.Key, e.Admin.Secret), map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"huge body", "application/json", `{"access_key":"` + strings.Repeat("a", 20000) + `","secret":"x"}`, nil, 0},
		{"unknown field", "application/json", `{"access_key":"a","secret":"b","admin":true}`, nil, 400},
		{"not json", "application/json", `{"access_key":`, nil, 400},
	} {
		resp := post(t, e.URL+console.RouteSession, c.ctype, c.body, c.hdr)
		body := readAll(t, resp)
		bad := resp.StatusCode != c.status
		if c.status == 0 { // refused before reading it all: 413, or 400 where the admin error mapping predates 413
			bad = resp.StatusCode != 413 && resp.StatusCode != 400
		}
		if bad || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
}

// TestBearerCSRF is the adminapi.Sessions contract: safe methods get the
// cookie's token; unsafe ones only with the session's own CSRF token and
// not from another site; an Authorization header wins over the cookie.
func TestBearerCSRF(t *testing.T) {
	e := start(t, agtest.Options{})
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	c2, info2 := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	if info2.CSRFToken == info.CSRFToken {
		t.Fatal("two sessions share a CSRF token")
	}
	cases := []struct {
		name, method string
		cookie       *http.Cookie
		hdr          map[string]string
		want         string // token returned; "" none
		forbidden    bool
	}{
		{"GET with cookie", "GET", c, nil, c.Value, false},
		{"HEAD with cookie", "HEAD", c, nil, c.Value, false},
		{"no cookie", "POST", nil, nil, "", false},
		{"POST without CSRF", "POST", c, nil, "", true},
		{"DELETE without CSRF", "DELETE", c, nil, "", true},
		{"PUT wrong CSRF", "PUT", c, map[string]string{console.CSRFHeader: "AAAA"}, "", true},
		{"POST garbage CSRF", "POST", c, map[string]string{console.CSRFHeader: "%%%not base64"}, "", true},
		{"POST another session's CSRF", "POST", c, map[string]string{console.CSRFHeader: info2.CSRFToken}, "", true},
		{"POST right CSRF", "POST", c, map[string]string{console.CSRFHeader: info.CSRFToken}, c.Value, false},
		{"PATCH right CSRF, second session", "PATCH", c2, map[string]string{console.CSRFHeader: info2.CSRFToken}, c2.Value, false},
		{"POST right CSRF but cross-site", "POST", c, map[string]string{console.CSRFHeader: info.CSRFToken, "Sec-Fetch-Site": "cross-site"}, "", true},
		{"Authorization wins", "POST", c, map[string]string{"Authorization": "Bearer other"}, "", false},
		{"huge CSRF", "POST", c, map[string]string{console.CSRFHeader: strings.Repeat("A", 10000)}, "", true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, "/admin/organisations", nil)
		if tc.cookie != nil {
			r.AddCookie(tc.cookie)
		}
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		got, err := e.con.Bearer(r)
		if got != tc.want || (core.KindOf(err) == core.KindForbidden) != tc.forbidden || (err != nil) != tc.forbidden {
			t.Errorf("%s: %q %v", tc.name, got, err)
		}
	}
	events, _ := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Protocol: "console", Limit: 100})
	if len(events) != 7 || events[0].PrincipalID != info.PrincipalID {
		t.Fatalf("refusals audited: %d %+v", len(events), events)
	}
}

// TestSignOutRevokesToken: sign-out needs the CSRF token, revokes the
// access token (audited) and clears the cookie; the session is gone.
func TestSignOutRevokesToken(t *testing.T) {
	e := start(t, agtest.Options{})
	ctx := context.Background()
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	send := func(method, path string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(method, e.URL+path, nil)
		req.AddCookie(c)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := send("POST", console.RouteSessionDelete, nil); resp.StatusCode != 403 {
		t.Fatalf("sign-out without CSRF: %d", resp.StatusCode)
	}
	if _, err := e.Svc.Tokens.Lookup(ctx, core.TokenAccess, c.Value); err != nil {
		t.Fatalf("a refused sign-out ended the session: %v", err)
	}
	resp := send("POST", console.RouteSessionDelete, map[string]string{console.CSRFHeader: info.CSRFToken})
	readAll(t, resp)
	cleared := false
	for _, k := range resp.Cookies() {
		cleared = cleared || k.Name == console.CookieName && k.Value == "" && k.MaxAge < 0
	}
	if resp.StatusCode != 204 || !cleared {
		t.Fatalf("sign-out: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if _, err := e.Svc.Tokens.Lookup(ctx, core.TokenAccess, c.Value); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("token after sign-out: %v", err)
	}
	if resp := send("GET", console.RouteSession, nil); resp.StatusCode != 401 {
		t.Fatalf("session after sign-out: %d", resp.StatusCode)
	}
	events, _ := e.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditRevoke, Protocol: "console", Limit: 10})
	if len(events) != 1 || events[0].PrincipalID != info.PrincipalID || !strings.Contains(events[0].Reason, "sign-out") {
		t.Fatalf("sign-out audit: %+v", events)
	}
	// Signing out again (DELETE form) with the ended session's cookie just clears it.
	if resp := send("DELETE", console.RouteSession, map[string]string{console.CSRFHeader: info.CSRFToken}); resp.StatusCode != 204 {
		t.Fatalf("second sign-out: %d", resp.StatusCode)
	}
}

// TestSecurityHeaders: the page, every asset and the session routes carry
// the strict CSP and friends; the page has no inline code; nothing but the
// listed assets is served.
func TestSecurityHeaders(t *testing.T) {
	e := start(t, agtest.Options{})
	paths := []string{console.RoutePage, console.RoutePage + "/", console.RouteSession}
	for _, a := range console.Assets {
		paths = append(paths, console.RouteStatic+a)
	}
	for _, p := range paths {
		resp, err := http.Get(e.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		h := resp.Header
		if h.Get("Content-Security-Policy") != console.CSP || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v", p, resp.StatusCode, h)
		}
		if want := 200; p != console.RouteSession && resp.StatusCode != want {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		bad := []string{"http://", "https://", "@import", "url(", "//cdn", "fonts."} // no external asset
		if !strings.HasPrefix(p, console.RouteStatic) {
			bad = append(bad, "<script>", " style=", "onclick=", "onload=", "onsubmit=", "javascript:") // no inline code
		}
		for _, b := range bad {
			if strings.Contains(body, b) {
				t.Errorf("%s contains %q", p, b)
			}
		}
	}
	if !strings.Contains(console.CSP, "script-src 'self'") || !strings.Contains(console.CSP, "frame-ancestors 'none'") || strings.Contains(console.CSP, "unsafe") {
		t.Fatalf("CSP %q", console.CSP)
	}
	for _, p := range []string{console.RouteStatic + "console.go", console.RouteStatic + "../doc.go", console.RoutePage + "/x"} {
		if resp, _ := http.Get(e.URL + p); resp.StatusCode != 404 {
			t.Errorf("%s served: %d", p, resp.StatusCode)
		}
	}
}

// TestSessionRoutesFollowPrivileges: a non-admin's session lists only
// the routes its kind is granted at all (the page offers no section that
// could only be refused): an owner reads its organisation's audit log, a
// user not even that; an admin's lists them all.
func TestSessionRoutesFollowPrivileges(t *testing.T) {
	e := start(t, agtest.Options{})
	ctx := context.Background()
	org, _ := e.Svc.CreateOrganisation(ctx, "acme")
	for kind, want := range map[core.PrincipalKind]string{core.PrincipalOwner: "GET /admin/audit", core.PrincipalUser: ""} {
		p, _ := e.Svc.CreatePrincipal(ctx, org.ID, kind, "alice-"+string(kind))
		cred, secret, _ := e.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
		_, s := e.signIn(t, cred.Lookup, secret)
		if !s.ReadOnly || s.OrgID != org.ID || strings.Join(s.Routes, ",") != want {
			t.Fatalf("%s session %+v", kind, s)
		}
	}
	_, admin := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	if admin.ReadOnly || strings.Join(admin.Routes, ",") != "GET /admin/audit,POST /admin/ca/certificates" {
		t.Fatalf("admin session %+v", admin)
	}
}
