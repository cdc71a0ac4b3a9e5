package console_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var _ adminapi.Sessions = (*console.Module)(nil)

// TestCookieNameInOpenAPI: the admin API documents the cookie by its name.
func TestCookieNameInOpenAPI(t *testing.T) {
	if adminapi.SessionCookie != console.CookieName {
		t.Fatalf("adminapi documents %q, the console sets %q", adminapi.SessionCookie, console.CookieName)
	}
}

// mounted serves the console and an admin API with one read and one
// admin-only write route, the console as its Sessions, and counts the
// writes that reached the handler.
func mounted(t *testing.T) (*agtest.Env, *atomic.Int32) {
	t.Helper()
	var writes atomic.Int32
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		con := console.New(console.DefaultConfig(), console.Deps{Grant: o, Tokens: svc.Tokens, Audit: svc.Audit, Keys: svc.Keys, Clock: svc.Clock, Log: svc.Log})
		api, err := adminapi.New(adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz, Sessions: con, Log: svc.Log}, []adminapi.Route{
			{Method: "GET", Path: "/admin/test/things", Tag: "Test", Summary: "read", Action: core.ActAuditRead, Result: struct{}{},
				Handle: func(ctx context.Context, req *adminapi.Request) (any, error) { return struct{}{}, nil }},
			{Method: "POST", Path: "/admin/test/things", Tag: "Test", Summary: "write", Action: core.ActOrganisationsCreate, Status: 201, Result: struct{}{},
				Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
					if err := req.Authorize(ctx, core.ActOrganisationsCreate, core.Target{}, ""); err != nil {
						return nil, err
					}
					writes.Add(1)
					return struct{}{}, nil
				}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{con, api}
	})
	return e, &writes
}

func send(t *testing.T, method, url string, c *http.Cookie, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if c != nil {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	return resp.StatusCode
}

// TestCSRFThroughTheAdminMount: on the real admin API mount, a session's
// reads need only the cookie; its writes need the session's X-CSRF-Token
// (403 and nothing done without it, with a wrong one or another
// session's); an Authorization header wins over the cookie; a user's
// session with its own valid CSRF token is refused the admin-only write.
func TestCSRFThroughTheAdminMount(t *testing.T) {
	e, writes := mounted(t)
	se := &env{Env: e}
	c, info := se.signIn(t, e.Admin.Key, e.Admin.Secret)
	_, other := se.signIn(t, e.Admin.Key, e.Admin.Secret)
	u := e.URL + "/admin/test/things"
	if st := send(t, "GET", u, c, nil); st != 200 {
		t.Fatalf("read with the cookie: %d", st)
	}
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		hdr    map[string]string
		status int
	}{
		{"no cookie, no token", nil, nil, 401},
		{"cookie without CSRF", c, nil, 403},
		{"cookie with a wrong CSRF", c, map[string]string{console.CSRFHeader: strings.Repeat("A", 43)}, 403},
		{"cookie with another session's CSRF", c, map[string]string{console.CSRFHeader: other.CSRFToken}, 403},
		{"CSRF without the cookie", nil, map[string]string{console.CSRFHeader: info.CSRFToken}, 401},
		{"a bad Authorization header wins over a good session", c, map[string]string{console.CSRFHeader: info.CSRFToken, "Authorization": "Bearer nope"}, 401},
	} {
		if st := send(t, "POST", u, tc.cookie, tc.hdr); st != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.status)
		}
	}
	if n := writes.Load(); n != 0 {
		t.Fatalf("%d refused writes reached the handler", n)
	}
	if st := send(t, "POST", u, c, map[string]string{console.CSRFHeader: info.CSRFToken}); st != 201 || writes.Load() != 1 {
		t.Fatalf("write with the CSRF token: %d", st)
	}
	// A user's session: a valid CSRF token does not make it an admin.
	ctx := context.Background()
	org, _ := e.Svc.CreateOrganisation(ctx, "acme")
	p, _ := e.Svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "alice")
	cred, secret, _ := e.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
	uc, uinfo := se.signIn(t, cred.Lookup, secret)
	if !uinfo.ReadOnly || uinfo.Kind != "user" {
		t.Fatalf("user session %+v", uinfo)
	}
	if st := send(t, "POST", u, uc, map[string]string{console.CSRFHeader: uinfo.CSRFToken}); st != 403 || writes.Load() != 1 {
		t.Fatalf("user's write: %d", st)
	}
	// After sign-out the cookie authenticates nothing.
	if st := send(t, "POST", e.URL+console.RouteSessionDelete, c, map[string]string{console.CSRFHeader: info.CSRFToken}); st != 204 {
		t.Fatalf("sign-out: %d", st)
	}
	if st := send(t, "GET", u, c, nil); st != 401 {
		t.Fatalf("read after sign-out: %d", st)
	}
}
