package oauth2_test

import (
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// TestConcurrentRefreshKeepsDeviceLoggedIn races two refreshes of one
// refresh token inside the grace window: both get a working pair and
// nothing is revoked; a third is refused without revoking anything. A
// replay after the window still revokes the family.
func TestConcurrentRefreshKeepsDeviceLoggedIn(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, true, nil)
			_, rt := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			const n = core.MaxRefreshExchanges
			results := make([]resp, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
				}()
			}
			wg.Wait()
			var pairs [][2]string
			for i, r := range results {
				if r.Status != 200 {
					t.Fatalf("concurrent refresh %d: %d %s", i, r.Status, r.Body)
				}
				m := r.json(t)
				pairs = append(pairs, [2]string{m["access_token"].(string), m["refresh_token"].(string)})
			}
			// Whichever pair the device kept works, and can be refreshed again.
			for i, p := range pairs {
				if r := e.do("GET", "/accesskeys", bearer(p[0]), ""); r.Status != 200 {
					t.Fatalf("pair %d access token: %d %s", i, r.Status, r.Body)
				}
			}
			if r := e.refresh(pairs[n-1][1]); r.Status != 200 {
				t.Fatalf("refresh of a racing pair: %d %s", r.Status, r.Body)
			}
			// Past the grace window the original token is a replay.
			e.Clock.Advance(10*time.Second + time.Millisecond)
			checkError(t, e.refresh(rt), 400, "invalid_grant", "already used", "")
			checkError(t, e.do("GET", "/accesskeys", bearer(pairs[0][0]), ""), 401, "invalid_token", "token revoked", "Bearer")
		})
	}
}

// TestFailedAuthenticationRateLimit: per key and address, then per
// address; a correct secret over the limit is refused like a wrong one; a
// hot address still admits keys it has not failed on; it is audited.
func TestFailedAuthenticationRateLimit(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			opt.AuthLimits = core.GuardLimits{Pair: 3, Address: 6, Credential: 6, Window: time.Minute}
			e := start(t, opt, true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Limited Org")
			key2, secret2 := e.createKey(adminTok, "Other Org")
			grant := func(k, s string) resp {
				return e.do("POST", "/oauth/token", formHeader(), url.Values{"grant_type": {"password"}, "username": {k}, "password": {s}}.Encode())
			}
			for i := range 3 {
				checkError(t, grant(key, "wrong"+strconv.Itoa(i)), 400, "invalid_grant", "invalid key or secret", "")
			}
			r := grant(key, "wrong")
			checkError(t, r, 429, "temporarily_unavailable", "too many failed authentications", "")
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
			}
			checkError(t, grant(key, secret), 429, "temporarily_unavailable", "", "")
			// The client-credentials path shares the limit.
			checkError(t, e.do("POST", "/oauth/token", with(formHeader(), "Authorization", basic(key, secret)), "grant_type=client_credentials"),
				429, "temporarily_unavailable", "", "")
			// Another key from the same address is not affected.
			if r := grant(key2, secret2); r.Status != 200 {
				t.Fatalf("other key: %d %s", r.Status, r.Body)
			}
			for i := range 3 {
				checkError(t, grant("unknown-"+strconv.Itoa(i), "x"), 400, "invalid_grant", "", "")
			}
			// 3 counted key failures (refusals from the fast path are not
			// counted) + 3 unknown keys = 6 from this address: it is hot.
			// A key it has not failed on still works (a NAT neighbour)...
			if r := grant(key2, secret2); r.Status != 200 {
				t.Fatalf("other key from the hot address: %d %s", r.Status, r.Body)
			}
			// ...and every key gets one attempt from it, not three.
			checkError(t, grant("unknown-x", "x"), 400, "invalid_grant", "", "")
			checkError(t, grant("unknown-x", "x"), 429, "temporarily_unavailable", "", "")
			checkError(t, grant(key2, "wrong"), 400, "invalid_grant", "", "")
			checkError(t, grant(key2, secret2), 429, "temporarily_unavailable", "", "")
			// After two windows everything is allowed again.
			e.Clock.Advance(2 * time.Minute)
			e.passwordGrant(key, secret)
			e.passwordGrant(key2, secret2)
			events, err := e.Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "oauth2"})
			if err != nil {
				t.Fatal(err)
			}
			limited := 0
			for _, ev := range events {
				if strings.Contains(ev.Reason, "too many failed authentications") {
					limited++
				}
			}
			if limited < 5 || len(events) < 13 {
				t.Fatalf("audit: %d failures, %d rate-limited", len(events), limited)
			}
		})
	}
}

// TestIntrospectionAndRevocation covers RFC 7662 and RFC 7009 access rules.
func TestIntrospectionAndRevocation(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			keyA, secretA := e.createKey(adminTok, "Org A")
			keyB, secretB := e.createKey(adminTok, "Org B")
			accessA, refreshA := e.passwordGrant(keyA, secretA)
			introspect := func(auth map[string]string, tok string) map[string]any {
				r := e.do("POST", "/oauth/introspect", with(formHeader(), "Authorization", auth["Authorization"]), url.Values{"token": {tok}}.Encode())
				if r.Status != 200 {
					t.Fatalf("introspect: %d %s", r.Status, r.Body)
				}
				return r.json(t)
			}
			basicA := map[string]string{"Authorization": basic(keyA, secretA)}
			basicB := map[string]string{"Authorization": basic(keyB, secretB)}
			m := introspect(basicA, accessA)
			if m["active"] != true || m["token_type"] != "Bearer" || m["client_id"] != keyA || m["jti"] == "" || m["exp"].(float64) != float64(epoch.Add(time.Hour).Unix()) {
				t.Fatalf("own access token: %v", m)
			}
			if m := introspect(basicA, refreshA); m["active"] != true || m["token_type"] != "refresh_token" || m["jti"] == m["jti"].(string)+"x" {
				t.Fatalf("own refresh token: %v", m)
			}
			if m := introspect(basicB, accessA); m["active"] != false || len(m) != 1 {
				t.Fatalf("other org's token must look inactive: %v", m)
			}
			if m := introspect(bearer(adminTok), accessA); m["active"] != true {
				t.Fatalf("admin bearer: %v", m)
			}
			if m := introspect(basicA, "garbage"); m["active"] != false {
				t.Fatalf("garbage: %v", m)
			}
			checkError(t, e.do("POST", "/oauth/introspect", with(formHeader(), "Authorization", "Bearer "+accessA), url.Values{"token": {accessA}}.Encode()),
				403, "insufficient_scope", "admin", "")
			// B cannot revoke A's token: 200 without effect.
			if r := e.do("POST", "/oauth/revoke", with(formHeader(), "Authorization", basic(keyB, secretB)), url.Values{"token": {refreshA}}.Encode()); r.Status != 200 {
				t.Fatalf("foreign revoke: %d", r.Status)
			}
			if m := introspect(basicA, accessA); m["active"] != true {
				t.Fatal("foreign revocation took effect")
			}
			// Revoking the refresh token kills the access token of the same grant.
			if r := e.do("POST", "/oauth/revoke", with(formHeader(), "Authorization", basic(keyA, secretA)),
				url.Values{"token": {refreshA}, "token_type_hint": {"refresh_token"}}.Encode()); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			if m := introspect(basicA, accessA); m["active"] != false {
				t.Fatalf("access token of a revoked grant: %v", m)
			}
			checkError(t, e.do("GET", "/accesskeys", bearer(accessA), ""), 401, "invalid_token", "token revoked", "Bearer")
		})
	}
}

// TestAccessKeyScopes: a user manages keys of its own organisation only;
// an admin creates a new organisation per key; paging.
func TestAccessKeyScopes(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			keyA, secretA := e.createKey(adminTok, "Org A")
			keyB, _ := e.createKey(adminTok, "Org B")
			userTok, _ := e.passwordGrant(keyA, secretA)
			// Two more keys in A's organisation, made by the user.
			k2, s2 := e.createKey(userTok, "A second")
			e.createKey(userTok, "A third")
			cA, _ := e.Svc.Store.FindCredential(t.Context(), core.CredAccessKey, keyA)
			c2, _ := e.Svc.Store.FindCredential(t.Context(), core.CredAccessKey, k2)
			cB, _ := e.Svc.Store.FindCredential(t.Context(), core.CredAccessKey, keyB)
			if cA.OrgID != c2.OrgID || cA.OrgID == cB.OrgID {
				t.Fatalf("organisations: A=%s A2=%s B=%s", cA.OrgID, c2.OrgID, cB.OrgID)
			}
			e.passwordGrant(k2, s2)
			// Paging over the user's three keys.
			r := e.do("GET", "/accesskeys?startIndex=1&pageSize=1", bearer(userTok), "")
			m := r.json(t)
			pi := m["PageInfo"].(map[string]any)
			if pi["TotalCount"].(float64) != 3 || pi["ItemsCount"].(float64) != 1 || pi["StartIndex"].(float64) != 1 {
				t.Fatalf("PageInfo = %v", pi)
			}
			rels := map[string]bool{}
			for _, l := range m["Links"].([]any) {
				rels[l.(map[string]any)["rel"].(string)] = true
			}
			if !rels["add"] || !rels["next"] || !rels["prev"] {
				t.Fatalf("list links = %v", m["Links"])
			}
			// Another organisation's key is invisible to the user.
			for _, method := range []string{"GET", "DELETE"} {
				checkError(t, e.do(method, "/accesskeys/"+keyB, bearer(userTok), ""), 404, "not_found", "", "")
			}
			checkError(t, e.do("PUT", "/accesskeys/"+keyB, with(bearer(userTok), "Content-Type", "application/json"), `{"Name":"x"}`), 404, "not_found", "", "")
			// The admin sees every organisation's keys.
			if n := e.do("GET", "/accesskeys", bearer(adminTok), "").json(t)["PageInfo"].(map[string]any)["TotalCount"].(float64); n != 5 {
				t.Fatalf("admin sees %v keys, want 5", n)
			}
			// Admin keys cannot be deleted through the API.
			checkError(t, e.do("DELETE", "/accesskeys/"+e.Admin.Key, bearer(adminTok), ""), 403, "insufficient_scope", "admin keys", "")
			// Rename, and the vnd media type round trip.
			r = e.do("PUT", "/accesskeys/"+k2, with(bearer(userTok), "Content-Type", "application/vnd.imgtec.accesskey+json"), `{"Name":"Renamed"}`)
			if r.Status != 204 {
				t.Fatalf("rename: %d %s", r.Status, r.Body)
			}
			r = e.do("GET", "/accesskeys/"+k2, with(bearer(userTok), "Accept", "application/vnd.imgtec.accesskey+json"), "")
			if r.Header.Get("Content-Type") != "application/vnd.imgtec.accesskey+json" || r.json(t)["Name"] != "Renamed" || r.json(t)["Secret"] != nil {
				t.Fatalf("get: %s %s", r.Header.Get("Content-Type"), r.Body)
			}
			for accept, want := range map[string]string{
				"":                 "application/vnd.imgtec.accesskey+json",
				"application/json": "application/json",
				"application/vnd.imgtec.com.accesskey+json": "application/vnd.imgtec.com.accesskey+json",
				"*/*": "application/vnd.imgtec.accesskey+json",
			} {
				r = e.do("GET", "/accesskeys/"+k2, with(bearer(userTok), "Accept", accept), "")
				if got := r.Header.Get("Content-Type"); got != want {
					t.Errorf("Accept %q -> %q, want %q", accept, got, want)
				}
			}
		})
	}
}
