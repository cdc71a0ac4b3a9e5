// Package admintest helps the tests of the modules that declare admin API
// routes: it mounts routes on the admin API as the composition root does,
// makes principals of each kind with access tokens, and calls routes.
package admintest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// API builds the admin API of routes on svc, or fails the test (also
// when the OpenAPI document generated from them is not valid).
func API(t testing.TB, svc core.Services, routes ...[]adminapi.Route) *adminapi.API {
	t.Helper()
	a, err := adminapi.New(adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz, Log: svc.Log}, routes...)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := a.OpenAPI()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi: %v", err)
	}
	return a
}

// Serve serves the admin API of routes on svc behind the real handler
// chain on loopback (for tests whose services agtest.Start did not make)
// and returns its base URL.
func Serve(t testing.TB, svc core.Services, routes ...[]adminapi.Route) string {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Options{Log: svc.Log, Ready: svc.Store}, API(t, svc, routes...)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Org creates an organisation and returns its id.
func Org(t testing.TB, svc core.Services, name string) string {
	t.Helper()
	o, err := svc.CreateOrganisation(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// Token creates a principal of kind in orgID and returns an access token of it.
func Token(t testing.TB, svc core.Services, orgID string, kind core.PrincipalKind) string {
	t.Helper()
	ctx := context.Background()
	p, err := svc.CreatePrincipal(ctx, orgID, kind, string(kind)+"-"+core.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: orgID, PrincipalID: p.ID, PrincipalKind: kind, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Call sends one request to base+path with token as a bearer token ("":
// none) and body (nil: none; []byte: as it is; else as JSON), and returns
// the status and the answer.
func Call(t testing.TB, c *http.Client, base, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// Refusals counts the audited privilege refusals so far.
func Refusals(t testing.TB, svc core.Services) int {
	t.Helper()
	evs, err := svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// Gate is a core.Gate of actor checked with svc's privilege table (the
// admin API's Request without HTTP), for table tests of the operations.
type Gate struct {
	Act core.Actor
	Svc core.Services
}

var _ core.Gate = Gate{}

// Actor is the acting principal.
func (g Gate) Actor() core.Actor { return g.Act }

// Authorize checks the table and audits a refusal, as the admin API does.
func (g Gate) Authorize(ctx context.Context, action core.Action, target core.Target, subject string) error {
	return g.Svc.Authz.Authorize(ctx, core.Authorization{Actor: g.Act, Action: action, Target: target, Subject: subject, Protocol: adminapi.Protocol})
}

// Actor creates a principal of kind in orgID and returns it as an actor.
func Actor(t testing.TB, svc core.Services, orgID string, kind core.PrincipalKind) core.Actor {
	t.Helper()
	p, err := svc.CreatePrincipal(context.Background(), orgID, kind, string(kind)+"-"+core.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	return core.Actor{Kind: kind, OrgID: orgID, PrincipalID: p.ID}
}
