package oauth2_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestGrantOutcomesObserved: every token request is one authentication
// of the oauth2 family, labelled with its grant, on authgate_auth_total
// and on the dashboard's counters, a good and a bad one alike; the
// reason is the core kind, whatever the request sent (an unsupported
// grant_type is oauth2-token, never its value).
func TestGrantOutcomesObserved(t *testing.T) {
	e := start(t, agtest.Options{}, true, nil)
	adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(adminTok, "Observed Org")
	_, rt := e.passwordGrant(key, secret)
	token := func(header map[string]string, form url.Values) func() {
		return func() { e.do("POST", "/oauth/token", header, form.Encode()) }
	}
	password := func(user, pass string) func() {
		return token(formHeader(), url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}})
	}
	client := func(id, sec string) func() {
		return token(with(formHeader(), "Authorization", basic(id, sec)), url.Values{"grant_type": {"client_credentials"}})
	}
	refresh := func(v string) func() {
		return token(formHeader(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}})
	}
	for _, c := range []struct {
		name, scheme, want string
		do                 func()
	}{
		{"password", oauth2.GrantPassword, "success/ok", password(key, secret)},
		{"password wrong secret", oauth2.GrantPassword, "failure/unauthenticated", password(key, "wrong")},
		{"password unknown key", oauth2.GrantPassword, "failure/unauthenticated", password("AKNOSUCHKEY", "x")},
		{"password without username", oauth2.GrantPassword, "failure/invalid_input", password("", "x")},
		{"client credentials", oauth2.GrantClientCredentials, "success/ok", client(key, secret)},
		{"client credentials wrong secret", oauth2.GrantClientCredentials, "failure/unauthenticated", client(key, "wrong")},
		{"client credentials without client", oauth2.GrantClientCredentials, "failure/unauthenticated",
			token(formHeader(), url.Values{"grant_type": {"client_credentials"}})},
		{"refresh", oauth2.GrantRefresh, "success/ok", refresh(rt)},
		{"refresh unknown", oauth2.GrantRefresh, "failure/unauthenticated", refresh("not-a-refresh-token")},
		{"unsupported grant", oauth2.GrantUnknown, "failure/invalid_input",
			token(formHeader(), url.Values{"grant_type": {"urn:" + strings.Repeat("x", 200)}})},
		{"no grant type", oauth2.GrantUnknown, "failure/invalid_input", token(formHeader(), url.Values{})},
		{"unreadable form", oauth2.GrantUnknown, "failure/invalid_input",
			func() { e.do("POST", "/oauth/token", map[string]string{"Content-Type": "text/plain"}, "x") }},
	} {
		t.Run(c.name, func(t *testing.T) { e.probe.Once(t, "oauth2", c.scheme, c.want, c.do) })
	}
	e.probe.Lint(t)
}

// TestGrantLimitedAttributedToFamily: a grant the failed-authentication
// limiter refuses is one rate_limited outcome and one limiter refusal of
// the oauth2 family and its grant, on the Prometheus counters and on the
// dashboard, as is a refused console sign-in (SignIn) under its own name.
func TestGrantLimitedAttributedToFamily(t *testing.T) {
	e := start(t, agtest.Options{AuthLimits: core.GuardLimits{Pair: 1, Address: 100, Credential: 100, Window: time.Minute}}, true, nil)
	adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(adminTok, "Limited Org")
	guess := func() { e.from("203.0.113.9", key, "guess") }
	e.probe.Once(t, "oauth2", oauth2.GrantPassword, "failure/unauthenticated", guess)
	e.probe.Once(t, "oauth2", oauth2.GrantPassword, "failure/rate_limited", guess)
	// The right secret from the refused pair is refused all the same, and counted as such.
	e.probe.Once(t, "oauth2", oauth2.GrantPassword, "failure/rate_limited", func() { e.from("203.0.113.9", key, secret) })

	signIn := func(sec string) func() {
		return func() {
			r := httptest.NewRequest("POST", "/console/sign-in", nil)
			r.RemoteAddr = "198.51.100.4:1234"
			_, _, _ = e.mod.SignIn(r, key, sec)
		}
	}
	e.probe.Once(t, "oauth2", oauth2.GrantSignIn, "success/ok", signIn(secret))
	e.probe.Once(t, "oauth2", oauth2.GrantSignIn, "failure/unauthenticated", signIn("wrong"))
	e.probe.Once(t, "oauth2", oauth2.GrantSignIn, "failure/rate_limited", signIn("wrong"))
	e.probe.Lint(t)
}

// TestTLSClientAuthOutcomesObserved: a token request on the devices'
// mTLS listener is one oauth2 authentication under its grant
// (oauth2-tls-client-auth for client_credentials with the certificate),
// good or bad, besides the device-mtls check of the certificate, which
// the device family counts.
func TestTLSClientAuthOutcomesObserved(t *testing.T) {
	w := newIDWorld(t)
	var c issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, `{"Name":"sensor-9"}`, &c); st != http.StatusCreated {
		t.Fatalf("issue: %d", st)
	}
	gc := w.mtlsClient(t, c)
	post := func(form url.Values) func() {
		return func() {
			resp, err := gc.PostForm(w.mtlsURL+"/oauth/token", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	for _, tc := range []struct {
		name, scheme, want string
		do                 func()
	}{
		{"tls_client_auth", oauth2.GrantTLSClientAuth, "success/ok", post(url.Values{"grant_type": {"client_credentials"}, "client_id": {"sensor-9"}})},
		{"another client_id", oauth2.GrantTLSClientAuth, "failure/unauthenticated", post(url.Values{"grant_type": {"client_credentials"}, "client_id": {"sensor-1"}})},
		{"with a client secret", oauth2.GrantTLSClientAuth, "failure/invalid_input", post(url.Values{"grant_type": {"client_credentials"}, "client_secret": {"x"}})},
		{"password grant with a certificate", oauth2.GrantPassword, "failure/invalid_input", post(url.Values{"grant_type": {"password"}})},
	} {
		t.Run(tc.name, func(t *testing.T) { w.probe.Once(t, "oauth2", tc.scheme, tc.want, tc.do) })
	}
	w.probe.Lint(t)
}

// TestEndpointClientOutcomesObserved: the client authentication of the
// introspection and revocation endpoints is checked under the limiter,
// so it is observed the same way, once per request (an admin's bearer
// token there is an oauth2-bearer check instead).
func TestEndpointClientOutcomesObserved(t *testing.T) {
	e := start(t, agtest.Options{}, true, nil)
	adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(adminTok, "Introspecting Org")
	call := func(path, auth string) func() {
		return func() {
			h := formHeader()
			if auth != "" {
				h = with(h, "Authorization", auth)
			}
			e.do("POST", path, h, url.Values{"token": {"x"}}.Encode())
		}
	}
	for _, c := range []struct {
		name, want string
		do         func()
	}{
		{"introspect", "success/ok", call("/oauth/introspect", basic(key, secret))},
		{"introspect wrong secret", "failure/unauthenticated", call("/oauth/introspect", basic(key, "wrong"))},
		{"introspect without a client", "failure/unauthenticated", call("/oauth/introspect", "")},
		{"revoke", "success/ok", call("/oauth/revoke", basic(key, secret))},
	} {
		t.Run(c.name, func(t *testing.T) { e.probe.Once(t, "oauth2", oauth2.SchemeEndpointClient, c.want, c.do) })
	}
}
