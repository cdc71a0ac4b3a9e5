package fuzz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
)

// consoleGrant signs in key "k" with secret "s" only.
type consoleGrant struct{}

func (consoleGrant) SignIn(_ *http.Request, key, secret string) (string, core.Token, error) {
	if key != "k" || secret != "s" {
		return "", core.Token{}, core.E(core.KindUnauthenticated, "invalid key or secret")
	}
	exp := time.Now().Add(time.Hour)
	return "tok-1", core.Token{ID: "t1", PrincipalKind: core.PrincipalAdmin, ExpiresAt: &exp}, nil
}

// consoleTokens knows the one token "tok-1".
type consoleTokens struct{}

func (consoleTokens) Lookup(_ context.Context, _ core.TokenKind, value string) (core.Token, error) {
	if value != "tok-1" {
		return core.Token{}, core.E(core.KindUnauthenticated, "invalid token")
	}
	return core.Token{ID: "t1", PrincipalKind: core.PrincipalAdmin}, nil
}

func (consoleTokens) Revoke(context.Context, string) error { return nil }

type discardAudit struct{}

func (discardAudit) Record(context.Context, core.AuditEvent) error { return nil }

// FuzzConsoleSession feeds the console's untrusted inputs — the sign-in
// body and content type, the session cookie and the X-CSRF-Token header —
// to its handlers and its adminapi.Sessions: nothing is a 5xx, a cookie is
// set only for the one right key and secret, and an unsafe request gets a
// token only with the exact CSRF token of its cookie.
func FuzzConsoleSession(f *testing.F) {
	keys, err := core.NewKeyring(make([]byte, core.MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	m := console.New(console.DefaultConfig(), console.Deps{Grant: consoleGrant{}, Tokens: consoleTokens{}, Audit: discardAudit{}, Keys: keys, Clock: core.SystemClock{}})
	mux := http.NewServeMux()
	m.Register(mux)
	// The right CSRF token of "tok-1", to seed with.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", console.RouteSession, strings.NewReader(`{"access_key":"k","secret":"s"}`))
	req.Header.Set("Content-Type", "application/json")
	mux.ServeHTTP(rec, req)
	var info console.SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.CSRFToken == "" {
		f.Fatalf("seed sign-in: %d %s", rec.Code, rec.Body)
	}
	for _, s := range []struct{ ctype, body, cookie, csrf, method string }{
		{"application/json", `{"access_key":"k","secret":"s"}`, "tok-1", info.CSRFToken, "POST"},
		{"application/json; charset=utf-8", `{"access_key":"k","secret":"x"}`, "tok-1", info.CSRFToken + "A", "DELETE"},
		{"application/x-www-form-urlencoded", "access_key=k&secret=s", "tok-2", info.CSRFToken, "PUT"},
		{"application/json", `{"access_key":"k","secret":"s","x":1}`, "", "", "GET"},
		{"text/plain", `{"access_key":"k","secret":"s"}{}`, "tok-1", "%%%", "PATCH"},
	} {
		f.Add(s.ctype, s.body, s.cookie, s.csrf, s.method)
	}
	f.Fuzz(func(t *testing.T, ctype, body, cookie, csrf, method string) {
		req := httptest.NewRequest("POST", console.RouteSession, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var in struct {
			AccessKey string `json:"access_key"`
			Secret    string `json:"secret"`
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		right := strings.HasPrefix(ctype, "application/json") && dec.Decode(&in) == nil && in.AccessKey == "k" && in.Secret == "s"
		if rec.Code >= 500 || (rec.Header().Get("Set-Cookie") != "") != (rec.Code == 200) || (rec.Code == 200 && !right) {
			t.Fatalf("sign-in %q %q: %d %v", ctype, body, rec.Code, rec.Header())
		}
		if !validToken(method) || !validToken(cookie) {
			return // not a request net/http would deliver
		}
		r := httptest.NewRequest(method, "/admin/x", nil)
		r.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
		r.Header.Set(console.CSRFHeader, csrf)
		got, err := m.Bearer(r)
		sent := ""
		if c, cerr := r.Cookie(console.CookieName); cerr == nil {
			sent = c.Value
		}
		safe := method == "GET" || method == "HEAD" || method == "OPTIONS"
		switch {
		case sent == "":
			if got != "" || err != nil {
				t.Fatalf("no cookie: %q %v", got, err)
			}
		case safe:
			if got != sent || err != nil {
				t.Fatalf("safe %s: %q %v", method, got, err)
			}
		case sent == "tok-1" && csrf == info.CSRFToken:
			if got != sent || err != nil {
				t.Fatalf("right CSRF token refused: %v", err)
			}
		default:
			if got != "" || core.KindOf(err) != core.KindForbidden {
				t.Fatalf("%s with cookie %q and CSRF %q: %q %v", method, sent, csrf, got, err)
			}
		}
	})
}

// validToken reports whether s is an HTTP token (a method, a cookie value
// without separators).
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}
