package cluster

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	sdkaps "github.com/authgate/authgate/sdk/apstrata"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// TestFailedGrantsAreAudited: every family's token grant, refused for
// each kind of reason (malformed or unsupported request, missing client
// authentication, unknown or foreign token, wrong signature), leaves a
// failure event with a reason in the audit log, as the docs promise.
// Before, OAuth2 and TAAP request-shape refusals, TAAP invalid_grant and
// Apstrata refusals after authentication were answered but not audited.
func TestFailedGrantsAreAudited(t *testing.T) {
	n := startNode(t, nodeOptions{master: newMasterKey(t), clock: time.Now().Truncate(time.Second)})
	c := newClient(n.URL)
	ctx := context.Background()
	taapc := newTAAPRefresh(t, n, c)
	brand, err := tpv.CreateBrand(ctx, n.Svc, "", "Audited Brand")
	if err != nil {
		t.Fatal(err)
	}
	acct := newApstrataClient(t, n, c)
	oauth := func(body string, h http.Header) func(t *testing.T) reply {
		return func(*testing.T) reply { return c.do(0, "POST", "/oauth/token", h, body) }
	}
	apsSigned := func(action string) func(t *testing.T) reply {
		return func(t *testing.T) reply {
			params := url.Values{"apsws.responseType": {"json"}, "apsws.requestId": {core.NewID()}}
			acct.sdk.Sign(http.MethodPost, action, params)
			req, err := acct.sdk.Request(ctx, http.MethodPost, action, params, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := sendToAll(newClient(n.URL), req)[0]
			if resp, err := sdkaps.Parse(r.body); err == nil && resp.Status == "success" {
				t.Fatalf("%s succeeded: %s", action, r.body)
			}
			return r
		}
	}
	cases := []struct {
		name, protocol, reason string
		send                   func(t *testing.T) reply
	}{
		{"oauth2 unsupported grant", "oauth2", "unsupported_grant_type", oauth("grant_type=magic", formHeader)},
		{"oauth2 no grant type", "oauth2", "grant_type is required", oauth("", formHeader)},
		{"oauth2 password grant without password", "oauth2", "username and password are required", oauth("grant_type=password&username=x", formHeader)},
		{"oauth2 client credentials without client", "oauth2", "client authentication required", oauth("grant_type=client_credentials", formHeader)},
		{"oauth2 refresh without token", "oauth2", "refresh_token is required", oauth("grant_type=refresh_token", formHeader)},
		{"oauth2 unknown refresh token", "oauth2", "refresh grant", oauth("grant_type=refresh_token&refresh_token=nope", formHeader)},
		{"oauth2 not a form", "oauth2", "invalid_request", oauth("{}", http.Header{"Content-Type": {"application/json"}})},
		{"oauth2 wrong secret", "oauth2", "password grant", oauth(passwordForm(n.Admin.Key, "wrong"), formHeader)},
		{"taap unknown refresh token", "taap", "invalid_grant", func(t *testing.T) reply { return taapc.refresh(t, 0, "nope") }},
		{"taap unsupported grant", "taap", "unsupported_grant_type", func(t *testing.T) reply { return taapc.tokenRequest(t, 0, "grant_type=magic") }},
		{"taap wrong client secret", "taap", "invalid", func(t *testing.T) reply {
			return c.do(0, "POST", "/oauth2/v6/tokens", basicHeader(taapc.sdk.ClientID, "wrong"), "")
		}},
		{"tpv login with a wrong signature", "tpv", "signature", func(*testing.T) reply {
			return c.do(0, "POST", sdktpv.LoginURL("", brand.ApplicationToken, "not the secret", n.Clock.Now()), nil, "")
		}},
		{"apstrata GenerateToken over plain HTTP", "apstrata", "GenerateToken", apsSigned("GenerateToken")},
		{"apstrata RenewToken without a token", "apstrata", "RenewToken", apsSigned("RenewToken")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			filter := core.AuditFilter{Action: core.AuditAuthFailure, Protocol: tc.protocol, Limit: 10000}
			before, err := n.Svc.Audit.List(ctx, filter)
			if err != nil {
				t.Fatal(err)
			}
			r := tc.send(t)
			if r.err != nil || r.status == 200 {
				t.Fatalf("the grant was not refused: %v %d %s", r.err, r.status, r.body)
			}
			after, err := n.Svc.Audit.List(ctx, filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%d failure events recorded for one refused grant (answer %d %s), want 1", len(after)-len(before), r.status, r.body)
			}
			newest := after[0]
			for _, e := range after {
				if e.ID > newest.ID {
					newest = e
				}
			}
			if newest.Outcome != core.OutcomeFailure || !strings.Contains(newest.Reason, tc.reason) {
				t.Fatalf("audit event %+v, want a failure with reason containing %q", newest, tc.reason)
			}
		})
	}
}
