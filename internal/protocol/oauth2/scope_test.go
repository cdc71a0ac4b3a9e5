package oauth2_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestRequestedScopeWasDropped: a requested scope was silently dropped
// and no scope returned. Driven by golang.org/x/oauth2 (Config.Scopes):
// the grant is the requested scope within the API resources the key's
// organisation is subscribed to, an empty intersection is invalid_scope,
// the response names the scope, the token's scope limits what it may
// call, and a refresh keeps the scope, may narrow it and never widens it.
func TestRequestedScopeWasDropped(t *testing.T) {
	var subs *subscription.Service
	e := &env{t: t}
	e.Env = agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		sc := subscription.DefaultConfig()
		sc.CacheMaxAge = 0
		subs = subscription.New(sc, svc.Store, svc.Clock, svc.Audit)
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{Version: "test", Addr: loopbackProxy, Scopes: subs})
		if err != nil {
			t.Fatal(err)
		}
		m.Bearer().SetAccessPolicy(core.AccessGate{Authz: svc.Authz, Policy: subs})
		e.mod = m
		return []httpapi.Module{m}
	})
	ctx := context.Background()
	for _, res := range []subscription.Resource{
		{Name: "device-server", PathPrefixes: []string{"/accesskeys"}},
		{Name: "tpv", PathPrefixes: []string{"/api/v1/tpv"}},
		{Name: "billing", PathPrefixes: []string{"/billing"}},
	} {
		if _, err := subs.CreateResource(ctx, subscription.Actor{}, res); err != nil {
			t.Fatal(err)
		}
	}
	admin, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(admin, "Scoped Org")
	cred, err := e.Svc.Credentials.Find(ctx, core.CredAccessKey, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"device-server", "tpv"} {
		if _, err := subs.Subscribe(ctx, subscription.Actor{}, subscription.Subscription{OrgID: cred.OrgID, Resource: r}); err != nil {
			t.Fatal(err)
		}
	}
	tokenURL := e.URL + "/oauth/token"
	introspected := func(tok string) string {
		t.Helper()
		r := e.do("POST", "/oauth/introspect", with(formHeader(), "Authorization", "Bearer "+admin), url.Values{"token": {tok}}.Encode())
		m := r.json(t)
		if r.Status != 200 || m["active"] != true {
			t.Fatalf("introspect: %d %s", r.Status, r.Body)
		}
		s, _ := m["scope"].(string)
		return s
	}
	keys := func(tok string) int { t.Helper(); return e.do("GET", "/accesskeys", bearer(tok), "").Status }

	// Password grant, golang.org/x/oauth2 Config.Scopes.
	for _, tc := range []struct {
		name      string
		scopes    []string
		granted   string // "" with code: refused
		code      string
		keysCalls int
	}{
		{"subscribed and unknown", []string{"device-server", "billing", "nonsense"}, "device-server", "", 200},
		{"two subscribed, in request order", []string{"tpv", "device-server"}, "tpv device-server", "", 200},
		{"another resource only", []string{"tpv"}, "tpv", "", 403},
		{"none subscribed", []string{"billing"}, "", "invalid_scope", 0},
		{"admin is not a user's", []string{"admin"}, "", "invalid_scope", 0},
		{"no scope: the default, none named", nil, "", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := &xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: tokenURL}, Scopes: tc.scopes}
			tok, err := conf.PasswordCredentialsToken(ctx, key, secret)
			if tc.code != "" {
				var re *xoauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != tc.code || re.Response.StatusCode != 400 {
					t.Fatalf("want %s, got %v", tc.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := tok.Extra("scope").(string); got != tc.granted || introspected(tok.AccessToken) != tc.granted {
				t.Fatalf("scope in the response %q, on the token %q, want %q", got, introspected(tok.AccessToken), tc.granted)
			}
			if st := keys(tok.AccessToken); st != tc.keysCalls {
				t.Fatalf("GET /accesskeys with scope %q: %d, want %d", tc.granted, st, tc.keysCalls)
			}
		})
	}

	// Client credentials.
	cc := clientcredentials.Config{ClientID: key, ClientSecret: secret, TokenURL: tokenURL, Scopes: []string{"device-server", "tpv", "billing"}}
	ct, err := cc.Token(ctx)
	if err != nil || ct.Extra("scope") != "device-server tpv" {
		t.Fatalf("client credentials: %v %v", ct, err)
	}
	cc.Scopes = []string{"billing"}
	var re *xoauth2.RetrieveError
	if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Fatalf("client credentials, nothing grantable: %v", err)
	}

	// Refresh: the TokenSource keeps the scope.
	conf := &xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: tokenURL}, Scopes: []string{"tpv"}}
	narrow, err := conf.PasswordCredentialsToken(ctx, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	stale := *narrow
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &stale).Token()
	if err != nil || fresh.AccessToken == narrow.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	if s := introspected(fresh.AccessToken); s != "tpv" || keys(fresh.AccessToken) != 403 {
		t.Fatalf("refreshed a tpv grant into scope %q", s)
	}

	// Refresh asking for a scope: narrower is granted (the refresh token
	// keeps the grant's scope), wider and unknown are invalid_scope and
	// leave the refresh token usable.
	both, err := (&xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: tokenURL}, Scopes: []string{"device-server", "tpv"}}).PasswordCredentialsToken(ctx, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt, scope string) resp {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if scope != "" {
			v.Set("scope", scope)
		}
		return e.do("POST", "/oauth/token", formHeader(), v.Encode())
	}
	checkError(t, refresh(both.RefreshToken, "device-server billing"), 400, "invalid_scope", "never widen", "")
	checkError(t, refresh(both.RefreshToken, "admin"), 400, "invalid_scope", "never widen", "")
	checkError(t, refresh(both.RefreshToken, `bad"scope`), 400, "invalid_scope", "not a scope token", "")
	r := refresh(both.RefreshToken, "tpv")
	m := r.json(t)
	if r.Status != http.StatusOK || m["scope"] != "tpv" || introspected(m["access_token"].(string)) != "tpv" {
		t.Fatalf("narrowing refresh: %d %s", r.Status, r.Body)
	}
	r = refresh(m["refresh_token"].(string), "")
	m = r.json(t)
	if r.Status != http.StatusOK || m["scope"] != nil || introspected(m["access_token"].(string)) != "device-server tpv" {
		t.Fatalf("refresh after narrowing, no scope asked: %d %s", r.Status, r.Body)
	}

	// A default grant (no scope) may be narrowed to what the key may have.
	def, err := (&xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: tokenURL}}).PasswordCredentialsToken(ctx, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, refresh(def.RefreshToken, "billing"), 400, "invalid_scope", "never widen", "")
	if r := refresh(def.RefreshToken, "device-server"); r.Status != 200 || r.json(t)["scope"] != "device-server" {
		t.Fatalf("narrowing a default grant: %d %s", r.Status, r.Body)
	}
}

// TestRequestedScopeInEveryShape: the granted scope is named in each
// token representation when a scope was requested (inside oAuthToken in
// the wrapped device-server shape); an admin may have "admin", and
// without a subscription source nothing else.
func TestRequestedScopeInEveryShape(t *testing.T) {
	const devserver = "application/vnd.imgtec.com.oauthtoken+json"
	e := start(t, agtest.Options{}, false, func(c *oauth2.Config) { c.DeviceServerResponse = "wrapped" })
	grant := func(accept, scope string) resp {
		return e.do("POST", "/oauth/token", with(formHeader(), "Accept", accept),
			url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}, "scope": {scope}}.Encode())
	}
	if r := grant("application/json", "tpv admin"); r.Status != 200 || r.json(t)["scope"] != "admin" {
		t.Fatalf("RFC 6749 shape: %d %s", r.Status, r.Body)
	}
	r := grant(devserver, "admin")
	inner, _ := r.json(t)["oAuthToken"].(map[string]any)
	if r.Status != 201 || inner["scope"] != "admin" || inner["expires_in"] != "3600" {
		t.Fatalf("wrapped device-server shape: %d %s", r.Status, r.Body)
	}
	checkError(t, grant("application/json", "tpv"), 400, "invalid_scope", "none of the requested scopes", "")
}
