package taap_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/sdk/pop"
)

// TestScopeBillingClientReadsConnectivity: a client whose scope is
// "billing" read /iot-connectivity devices. The resource now needs an
// access token whose scope includes iot-connectivity and answers 403
// insufficient_scope in TAAP's shape, with an RFC 6750 Bearer challenge
// naming the scope; a client registered without a scope gets the default
// (iot-connectivity), and a refresh keeps the grant's scope. Resource
// calls are signed by T-Mobile's npm builder.
func TestScopeBillingClientReadsConnectivity(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// The npm builder reads the real clock: the server's follows it before
	// each signed request, however long the test takes.
	f.env.Clock.Set(time.Now())
	ctx := context.Background()
	keyPEM := pkcs8PEM(t, f.key)
	uri := "/iot-connectivity/v1/devices/" + testICCID
	device := func(access string) result {
		t.Helper()
		f.env.Clock.Set(time.Now())
		req, _ := http.NewRequest("GET", f.env.URL+uri, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		req.Header.Set("X-Authorization", npmBuild(t, keyPEM, [][2]string{{"Authorization", "Bearer " + access}, {"uri", uri}, {"http-method", "GET"}, {"body", ""}})[0])
		return send(t, req)
	}
	for _, tc := range []struct {
		name, scope, granted string
		ok                   bool
	}{
		{"billing only", "billing", "billing", false},
		{"billing and connectivity", "billing iot-connectivity", "billing iot-connectivity", true},
		{"no scope: the default", "", "iot-connectivity", true},
		{"a longer name with the scope as prefix", "iot-connectivity.admin", "iot-connectivity.admin", false},
		{"another case", "IOT-CONNECTIVITY", "IOT-CONNECTIVITY", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := taap.CreateClient(ctx, f.env.Svc, taap.ClientSpec{OrgID: f.client.OrgID, Name: "scoped " + core.NewID()[:6], PublicKeys: [][]byte{pop.PublicKeyPEM(f.key)}, Scope: tc.scope})
			if err != nil {
				t.Fatal(err)
			}
			c := &pop.Client{BaseURL: f.env.URL, ClientID: info.ClientID, ClientSecret: info.ClientSecret, Builder: &pop.Builder{Key: f.key}}
			f.env.Clock.Set(time.Now())
			tr, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Scope != tc.granted {
				t.Fatalf("granted scope %q, want %q", tr.Scope, tc.granted)
			}
			check := func(r result) {
				t.Helper()
				if tc.ok {
					if r.status != 200 || r.body["iccid"] != testICCID {
						t.Fatalf("refused: %d %v", r.status, r.body)
					}
					return
				}
				if r.status != 403 || r.code() != "insufficient_scope" || r.desc() != "the access token's scope does not include iot-connectivity" {
					t.Fatalf("want 403 insufficient_scope, got %d %v", r.status, r.body)
				}
				if want := `Bearer realm="authgate", error="insufficient_scope", error_description="the access token's scope does not include iot-connectivity", scope="iot-connectivity"`; r.challenge != want {
					t.Fatalf("WWW-Authenticate = %q, want %q", r.challenge, want)
				}
			}
			check(device(tr.AccessToken))
			if !tc.ok {
				evs, err := f.env.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditForbidden, Protocol: "taap"})
				if err != nil {
					t.Fatal(err)
				}
				audited := false
				for _, e := range evs {
					audited = audited || e.PrincipalID == info.PrincipalID && strings.HasSuffix(e.Reason, "insufficient_scope: token scope \""+tc.granted+"\" lacks iot-connectivity")
				}
				if !audited {
					t.Fatalf("refusal not audited: %v", evs)
				}
			}

			// A refresh keeps the scope: never widened to the default.
			body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}.Encode()
			req, _ := http.NewRequest("POST", f.env.URL+taap.RouteToken, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(info.ClientID+":"+info.ClientSecret))
			req.Header.Set("Authorization", basic)
			f.env.Clock.Set(time.Now())
			req.Header.Set("X-Authorization", npmBuild(t, keyPEM, [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"Authorization", basic}, {"uri", taap.RouteToken}, {"http-method", "POST"}, {"body", body}})[0])
			rr := send(t, req)
			if rr.status != 200 || rr.body["scope"] != tc.granted {
				t.Fatalf("refresh: %d %v", rr.status, rr.body)
			}
			check(device(rr.body["access_token"].(string)))
		})
	}
}
