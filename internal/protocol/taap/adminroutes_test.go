package taap_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/sdk/pop"
)

// adminCall sends one admin API request with bearer (none when "") and
// returns the status and the decoded JSON answer.
func adminCall(t testing.TB, base, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, answer is not a JSON object: %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// accessToken issues an OAuth2 access token (what the admin API takes)
// to a principal of kind in org.
func accessToken(t testing.TB, svc core.Services, org string, kind core.PrincipalKind) (string, core.Principal) {
	t.Helper()
	ctx := context.Background()
	p, err := svc.CreatePrincipal(ctx, org, kind, string(kind)+" "+core.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	return issueAccess(t, svc, p), p
}

func issueAccess(t testing.TB, svc core.Services, p core.Principal) string {
	t.Helper()
	v, _, err := svc.Tokens.Issue(context.Background(), core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID, PrincipalKind: p.Kind, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// forbiddenAuditedFor reports whether a refusal of principal on the admin API was audited.
func forbiddenAuditedFor(t testing.TB, svc core.Services, principalID string) bool {
	t.Helper()
	evs, err := svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Protocol: "admin", PrincipalID: principalID})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs) > 0
}

func items(t testing.TB, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// TestAdminRoutesTAAP runs the lifecycle of a client, its keys and a SIM
// through /admin/taap on a real server with an administrator's token.
func TestAdminRoutesTAAP(t *testing.T) {
	f := newFixture(t, fixtureOpts{admin: true})
	admin, _ := accessToken(t, f.env.Svc, core.SystemOrgID, core.PrincipalAdmin)
	u := f.env.URL
	f.env.Clock.Advance(time.Second) // listings are oldest first: the fixture's client, then this one
	st, c := adminCall(t, u, "POST", taap.RouteAdminClients, admin, map[string]any{"name": "console client", "scope": "iot-connectivity",
		"public_keys": []string{string(pop.PublicKeyPEM(testKeys()[1]))}})
	if st != 201 || c["secret"] == "" || c["client_id"] == "" || c["name"] != "console client" || len(c["kids"].([]any)) != 1 {
		t.Fatalf("create: %d %v", st, c)
	}
	id, org := c["client_id"].(string), c["org_id"].(string)
	if st, g := adminCall(t, u, "GET", taap.RouteAdminClients+"/"+id, admin, nil); st != 200 || g["secret"] != nil || g["client_secret"] != nil || g["scope"] != "iot-connectivity" {
		t.Fatalf("get: %d %v", st, g)
	}
	if st, l := adminCall(t, u, "GET", taap.RouteAdminClients+"?limit=1", admin, nil); st != 200 || l["total"] != 2.0 || len(items(t, l)) != 1 || l["next_cursor"] != "1" {
		t.Fatalf("first page: %d %v", st, l)
	}
	if st, l := adminCall(t, u, "GET", taap.RouteAdminClients+"?limit=1&cursor=1", admin, nil); st != 200 || len(items(t, l)) != 1 || items(t, l)[0]["client_id"] != id || l["next_cursor"] != nil {
		t.Fatalf("second page: %d %v", st, l)
	}
	st, k := adminCall(t, u, "POST", taap.RouteAdminClients+"/"+id+"/keys", admin, map[string]any{"public_key": string(pop.PublicKeyPEM(testKeys()[2]))})
	if st != 201 || k["kid"] == "" {
		t.Fatalf("add key: %d %v", st, k)
	}
	kid := k["kid"].(string)
	if st, l := adminCall(t, u, "GET", taap.RouteAdminClients+"/"+id+"/keys", admin, nil); st != 200 || l["total"] != 2.0 {
		t.Fatalf("keys: %d %v", st, l)
	}
	if st, r := adminCall(t, u, "POST", taap.RouteAdminClients+"/"+id+"/keys/"+kid+"/revoke", admin, nil); st != 200 || r["revoked"] != true {
		t.Fatalf("revoke key: %d %v", st, r)
	}
	if st, l := adminCall(t, u, "GET", taap.RouteAdminClients+"/"+id+"/keys?include_revoked=true", admin, nil); st != 200 || l["total"] != 2.0 {
		t.Fatalf("all keys: %d %v", st, l)
	}
	if st, g := adminCall(t, u, "GET", taap.RouteAdminClients+"/"+id+"/keys/"+kid, admin, nil); st != 200 || g["revoked_at"] == nil {
		t.Fatalf("revoked key: %d %v", st, g)
	}
	iccid := func() string { d := "8901260123456789015"; return d + string(taap.LuhnDigit(d)) }()
	if st, s := adminCall(t, u, "POST", taap.RouteAdminSIMs, admin, map[string]any{"org_id": org, "iccid": iccid, "label": "console"}); st != 201 || s["iccid"] != iccid || s["org_id"] != org {
		t.Fatalf("add SIM: %d %v", st, s)
	}
	if st, l := adminCall(t, u, "GET", taap.RouteAdminSIMs+"?org="+org, admin, nil); st != 200 || l["total"] != 1.0 || items(t, l)[0]["iccid"] != iccid {
		t.Fatalf("SIMs of the organisation: %d %v", st, l)
	}
	if st, d := adminCall(t, u, "DELETE", taap.RouteAdminSIMs+"/"+iccid, admin, nil); st != 200 || d["deleted"] != true {
		t.Fatalf("delete SIM: %d %v", st, d)
	}
	if st, _ := adminCall(t, u, "GET", taap.RouteAdminSIMs+"/"+iccid, admin, nil); st != 404 {
		t.Fatalf("deleted SIM: %d", st)
	}
	if st, d := adminCall(t, u, "DELETE", taap.RouteAdminClients+"/"+id, admin, nil); st != 200 || d["deleted"] != true || d["keys_revoked"] != 1.0 {
		t.Fatalf("delete: %d %v", st, d)
	}
	if st, _ := adminCall(t, u, "GET", taap.RouteAdminClients+"/"+id, admin, nil); st != 404 {
		t.Fatalf("deleted client: %d", st)
	}
	if st, e := adminCall(t, u, "GET", taap.RouteAdminClients+"?orgs=x", admin, nil); st != 400 || !strings.Contains(e["error_description"].(string), "unknown parameter") {
		t.Fatalf("unknown parameter: %d %v", st, e)
	}
}

// TestAttack_AdminTAAPOtherOrganisation: an owner reading another
// organisation's client, key or SIM is answered 404 as for an unknown id;
// changing them or listing the organisation's objects is refused 403;
// every refusal is audited; an owner's listing never shows another
// organisation's. Changes are refused to owners even in their own
// organisation.
func TestAttack_AdminTAAPOtherOrganisation(t *testing.T) {
	f := newFixture(t, fixtureOpts{admin: true})
	other, err := f.env.Svc.CreateOrganisation(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	tok, owner := accessToken(t, f.env.Svc, other.ID, core.PrincipalOwner)
	id, kid := f.client.ClientID, f.client.Thumbprints[0]
	for _, r := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", taap.RouteAdminClients + "/" + id, 404, "not_found"},
		{"DELETE", taap.RouteAdminClients + "/" + id, 403, "insufficient_scope"},
		{"GET", taap.RouteAdminClients + "/" + id + "/keys", 404, "not_found"},
		{"GET", taap.RouteAdminClients + "/" + id + "/keys/" + kid, 404, "not_found"},
		{"POST", taap.RouteAdminClients + "/" + id + "/keys/" + kid + "/revoke", 403, "insufficient_scope"},
		{"GET", taap.RouteAdminClients + "?org=" + f.client.OrgID, 403, "insufficient_scope"},
		{"GET", taap.RouteAdminSIMs + "?org=" + f.client.OrgID, 403, "insufficient_scope"},
		{"GET", taap.RouteAdminSIMs + "/" + testICCID, 404, "not_found"},
		{"DELETE", taap.RouteAdminSIMs + "/" + testICCID, 403, "insufficient_scope"},
	} {
		if st, e := adminCall(t, f.env.URL, r.method, r.path, tok, nil); st != r.status || e["error"] != r.code {
			t.Errorf("%s %s: %d %v", r.method, r.path, st, e)
		}
	}
	if !forbiddenAuditedFor(t, f.env.Svc, owner.ID) {
		t.Fatal("refusals not audited")
	}
	if st, l := adminCall(t, f.env.URL, "GET", taap.RouteAdminClients, tok, nil); st != 200 || l["total"] != 0.0 {
		t.Fatalf("owner's own listing: %d %v", st, l)
	}
	// The client's own organisation's owner reads, but changes nothing.
	mine, _ := accessToken(t, f.env.Svc, f.client.OrgID, core.PrincipalOwner)
	if st, l := adminCall(t, f.env.URL, "GET", taap.RouteAdminSIMs, mine, nil); st != 200 || l["total"] != 1.0 {
		t.Fatalf("owner's SIMs: %d %v", st, l)
	}
	if st, _ := adminCall(t, f.env.URL, "DELETE", taap.RouteAdminClients+"/"+id, mine, nil); st != 403 {
		t.Fatalf("owner deletes its client: %d", st)
	}
	if st, _ := adminCall(t, f.env.URL, "POST", taap.RouteAdminSIMs, mine, map[string]any{"org_id": f.client.OrgID, "iccid": testICCID}); st != 403 {
		t.Fatalf("owner adds a SIM: %d", st)
	}
}

// TestAttack_AdminTAAPOtherCredentials: a TAAP access token (a client's
// credential, not the admin API's) is not an admin token; the OAuth2
// tokens of a device or of the TAAP client's own principal are refused
// every admin route.
func TestAttack_AdminTAAPOtherCredentials(t *testing.T) {
	f := newFixture(t, fixtureOpts{admin: true})
	taapToken := f.accessToken(t).AccessToken
	device, _ := accessToken(t, f.env.Svc, f.client.OrgID, core.PrincipalDevice)
	self, err := f.env.Svc.Store.GetPrincipal(context.Background(), f.client.PrincipalID)
	if err != nil {
		t.Fatal(err)
	}
	app := issueAccess(t, f.env.Svc, self)
	for _, path := range []string{taap.RouteAdminClients, taap.RouteAdminClients + "/" + f.client.ClientID, taap.RouteAdminSIMs + "/" + testICCID} {
		if st, e := adminCall(t, f.env.URL, "GET", path, taapToken, nil); st != 401 || e["error"] != "invalid_token" {
			t.Errorf("TAAP access token on %s: %d %v", path, st, e)
		}
		if st, _ := adminCall(t, f.env.URL, "GET", path, "", nil); st != 401 {
			t.Errorf("no token on %s: %d", path, st)
		}
		for name, tok := range map[string]string{"device": device, "the client's own principal": app} {
			if st, e := adminCall(t, f.env.URL, "GET", path, tok, nil); st != 403 {
				t.Errorf("%s on %s: %d %v", name, path, st, e)
			}
		}
	}
	if st, _ := adminCall(t, f.env.URL, "DELETE", taap.RouteAdminClients+"/"+f.client.ClientID, app, nil); st != 403 {
		t.Fatalf("the client deletes itself: %d", st)
	}
}

// TestAttack_DeletedTAAPClientRefused: once a client is deleted through
// the admin API, the access token it had is refused on the PoP resource
// (with a fresh, correctly signed PoP token), and its secret no longer
// gets a token; a revoked key's PoP signatures are refused at once.
func TestAttack_DeletedTAAPClientRefused(t *testing.T) {
	f := newFixture(t, fixtureOpts{admin: true})
	admin, _ := accessToken(t, f.env.Svc, core.SystemOrgID, core.PrincipalAdmin)
	ctx := context.Background()
	tr := f.accessToken(t)
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID); err != nil {
		t.Fatalf("before: %v", err)
	}
	if st, d := adminCall(t, f.env.URL, "DELETE", taap.RouteAdminClients+"/"+f.client.ClientID, admin, nil); st != 200 || d["tokens_revoked"].(float64) < 1 {
		t.Fatalf("delete: %d %v", st, d)
	}
	var pe *pop.Error
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID); !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("deleted client's access token: %v", err)
	}
	if _, err := f.sdk.Token(ctx); !errors.As(err, &pe) || pe.Status != 401 || pe.Code != "invalid_client" {
		t.Fatalf("deleted client's secret: %v", err)
	}

	// Key revocation: a second client whose only key is revoked.
	f.register(t, "rotating client")
	tr = f.accessToken(t)
	kid := f.client.Thumbprints[0]
	if st, r := adminCall(t, f.env.URL, "POST", taap.RouteAdminClients+"/"+f.client.ClientID+"/keys/"+kid+"/revoke", admin, nil); st != 200 {
		t.Fatalf("revoke: %d %v", st, r)
	}
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID); !errors.As(err, &pe) || pe.Status != 401 || pe.Code != taap.ErrorCode {
		t.Fatalf("revoked key's PoP token: %v", err)
	}
}

// TestAttack_DeletedTAAPClientFromAnotherProcess: a client deleted by the
// command line (another process: no access to the server's key cache) is
// refused once taap.client_cache_ttl has passed.
func TestAttack_DeletedTAAPClientFromAnotherProcess(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	tr := f.accessToken(t)
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID); err != nil {
		t.Fatalf("before: %v", err)
	}
	if _, err := taap.NewAdmin(f.env.Svc).DeleteClient(ctx, core.Operator{}, f.client.ClientID); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(f.cfg.ClientCacheTTL + time.Second)
	var pe *pop.Error
	if _, err := f.sdk.Device(ctx, tr.AccessToken, testICCID); !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("after the cache bound: %v", err)
	}
}

// TestAttack_AdminTAAPInputs: ids that do not exist are 404, malformed
// ICCIDs 400, huge ids 404, a huge body 413, too many keys 400, unknown
// body fields 400.
func TestAttack_AdminTAAPInputs(t *testing.T) {
	f := newFixture(t, fixtureOpts{admin: true})
	admin, _ := accessToken(t, f.env.Svc, core.SystemOrgID, core.PrincipalAdmin)
	id := f.client.ClientID
	unknownSIM := func() string { d := "8901260123456789016"; return d + string(taap.LuhnDigit(d)) }()
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", taap.RouteAdminClients + "/nope", nil, 404},
		{"DELETE", taap.RouteAdminClients + "/nope", nil, 404},
		{"GET", taap.RouteAdminClients + "/" + strings.Repeat("x", 8000), nil, 404},
		{"GET", taap.RouteAdminClients + "/" + id + "/keys/nope", nil, 404},
		{"POST", taap.RouteAdminClients + "/" + id + "/keys/nope/revoke", nil, 404},
		{"GET", taap.RouteAdminClients + "/nope/keys", nil, 404},
		{"GET", taap.RouteAdminSIMs + "/" + unknownSIM, nil, 404},
		{"GET", taap.RouteAdminSIMs + "/" + testICCID[:len(testICCID)-1] + strconv.Itoa(int(testICCID[len(testICCID)-1]-'0'+1)%10), nil, 400},
		{"GET", taap.RouteAdminSIMs + "/12345", nil, 400},
		{"DELETE", taap.RouteAdminSIMs + "/" + strings.Repeat("8", 4000), nil, 400},
		{"POST", taap.RouteAdminSIMs, map[string]any{"org_id": f.client.OrgID, "iccid": "8901260123456789012x"}, 400},
		{"POST", taap.RouteAdminSIMs, map[string]any{"org_id": "nope", "iccid": unknownSIM}, 404},
		{"POST", taap.RouteAdminSIMs, `{"org_id":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
		{"POST", taap.RouteAdminClients, map[string]any{"name": "many", "public_keys": manyKeys(17)}, 400},
		{"POST", taap.RouteAdminClients, map[string]any{"name": "x", "public_keys": []string{string(pop.PublicKeyPEM(testKeys()[2]))}, "admin": true}, 400},
		{"GET", taap.RouteAdminClients + "?limit=100000", nil, 400},
		{"GET", taap.RouteAdminClients + "?cursor=-1", nil, 400},
	} {
		if st, e := adminCall(t, f.env.URL, tc.method, tc.path, admin, tc.body); st != tc.want {
			t.Errorf("%s %.80s: %d %v, want %d", tc.method, tc.path, st, e, tc.want)
		}
	}
}

// manyKeys is n copies of one public key: the count is refused before
// any key is parsed twice.
func manyKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(pop.PublicKeyPEM(testKeys()[2]))
	}
	return out
}
