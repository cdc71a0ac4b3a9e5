package adminapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// objectsEnv serves the core objects' routes with two organisations: A
// (an owner, a user, a device, an application, a partner, each with a
// token and a credential) and B (an owner with a credential).
type objectsEnv struct {
	*mountEnv
	orgA, orgB         string
	principals, creds  map[string]string // by "A-owner", "B-owner", ...
	tokensA            map[core.PrincipalKind]string
	adminPrincipalID   string
	adminTok, expiring string
}

func startObjects(t *testing.T) *objectsEnv {
	t.Helper()
	m := &mountEnv{tokens: map[core.PrincipalKind]string{}}
	sessions := fakeSessions{}
	m.Env = agtest.Start(t, agtest.Options{ManualClock: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}, func(svc core.Services) []httpapi.Module {
		m.api = mustAPI(t, adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz, Sessions: sessions}, adminapi.Objects{Ops: svc}.AdminRoutes())
		return []httpapi.Module{m.api}
	})
	e := &objectsEnv{mountEnv: m, principals: map[string]string{}, creds: map[string]string{}, tokensA: map[core.PrincipalKind]string{}}
	ctx := context.Background()
	for _, name := range []string{"A", "B"} {
		o, err := m.Svc.CreateOrganisation(ctx, "org-"+name)
		if err != nil {
			t.Fatal(err)
		}
		kinds := []core.PrincipalKind{core.PrincipalOwner}
		if name == "A" {
			e.orgA = o.ID
			kinds = []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner}
		} else {
			e.orgB = o.ID
		}
		for _, k := range kinds {
			p, err := m.Svc.CreatePrincipal(ctx, o.ID, k, string(k)+"-"+name)
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := m.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: o.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
			if err != nil {
				t.Fatal(err)
			}
			e.principals[name+"-"+string(k)], e.creds[name+"-"+string(k)] = p.ID, c.ID
			if name == "A" {
				tok, _, err := m.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: o.ID, PrincipalID: p.ID, PrincipalKind: k, CredentialID: c.ID, TTL: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				e.tokensA[k] = tok
			}
		}
	}
	admin, err := m.Svc.CreatePrincipal(ctx, core.SystemOrgID, core.PrincipalAdmin, "admin-2")
	if err != nil {
		t.Fatal(err)
	}
	e.adminPrincipalID = admin.ID
	issue := func(ttl time.Duration) string {
		tok, _, err := m.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: core.SystemOrgID, PrincipalID: admin.ID, PrincipalKind: core.PrincipalAdmin, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	e.adminTok, e.expiring = issue(24*time.Hour), issue(time.Minute)
	sessions["admin"] = e.adminTok
	return e
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// TestObjectsLifecycle: an administrator creates an organisation, a
// principal and its access key (the secret in that answer only), lists
// and pages them, revokes the key and disables the principal, whose
// tokens stop working; every change is audited with the actor.
func TestObjectsLifecycle(t *testing.T) {
	e := startObjects(t)
	admin := bearer(e.adminTok)
	post := func(path, body string, want int) map[string]any {
		t.Helper()
		st, _, b := e.do(t, call{method: "POST", path: path, body: body, header: admin})
		if st != want {
			t.Fatalf("POST %s: %d %s", path, st, b)
		}
		return decodeJSON(t, b)
	}
	get := func(path string) (map[string]any, string) {
		t.Helper()
		st, _, b := e.do(t, call{method: "GET", path: path, header: admin})
		if st != 200 {
			t.Fatalf("GET %s: %d %s", path, st, b)
		}
		return decodeJSON(t, b), string(b)
	}
	org := post("/admin/organisations", `{"name":"acme"}`, 201)["id"].(string)
	p := post("/admin/principals", `{"org_id":"`+org+`","kind":"user","name":"alice"}`, 201)
	if p["org_id"] != org || p["kind"] != "user" || p["disabled"] != false {
		t.Fatalf("principal: %v", p)
	}
	pid := p["id"].(string)
	c := post("/admin/credentials", `{"principal_id":"`+pid+`","kind":"access_key","name":"laptop"}`, 201)
	secret, _ := c["secret"].(string)
	if secret == "" || c["org_id"] != org || c["lookup"] == "" {
		t.Fatalf("credential create: %v", c)
	}
	cid := c["id"].(string)
	// The secret authenticates (the password grant's check) and is never shown again.
	if _, err := e.Svc.Credentials.VerifySecret(context.Background(), core.CredAccessKey, c["lookup"].(string), secret); err != nil {
		t.Fatalf("the created secret does not verify: %v", err)
	}
	for _, path := range []string{"/admin/credentials/" + cid, "/admin/credentials?principal=" + pid, "/admin/credentials?kind=access_key", "/admin/credentials?org=" + org} {
		m, raw := get(path)
		if strings.Contains(raw, secret) || strings.Contains(raw, `"secret"`) {
			t.Fatalf("%s shows the secret: %s", path, raw)
		}
		if items, ok := m["items"].([]any); ok && !strings.Contains(raw, cid) {
			t.Fatalf("%s does not list the credential: %v", path, items)
		}
	}
	if m, _ := get("/admin/principals?org=" + org + "&kind=user"); m["total"] != float64(1) {
		t.Fatalf("principals of acme: %v", m)
	}
	// Paging: every organisation once over pages of one.
	seen := map[string]bool{}
	for q := "limit=1"; ; {
		m, _ := get("/admin/organisations?" + q)
		for _, it := range m["items"].([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			if int(m["total"].(float64)) != len(seen) {
				t.Fatalf("paged %d organisations of %v", len(seen), m["total"])
			}
			break
		}
		q = "limit=1&cursor=" + next
	}
	if !seen[org] || !seen[e.orgA] || !seen[core.SystemOrgID] {
		t.Fatalf("paging missed organisations: %v", seen)
	}
	// Revoke: the holder's tokens stop working.
	tok, _, err := e.Svc.Tokens.Issue(context.Background(), core.TokenSpec{Kind: core.TokenAccess, OrgID: org, PrincipalID: pid, PrincipalKind: core.PrincipalUser, CredentialID: cid, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, b := e.do(t, call{method: "GET", path: "/admin/principals/" + pid, header: bearer(tok)}); st != 200 {
		t.Fatalf("the user reads itself: %d %s", st, b)
	}
	if r := post("/admin/credentials/"+cid+"/revoke", "", 200); r["revoked"] != cid || r["tokens_revoked"] != float64(1) {
		t.Fatalf("revoke: %v", r)
	}
	if st, _, _ := e.do(t, call{method: "GET", path: "/admin/principals/" + pid, header: bearer(tok)}); st != 401 {
		t.Fatalf("a token of the revoked credential's principal: %d", st)
	}
	if m, _ := get("/admin/credentials/" + cid); m["revoked_at"] == nil {
		t.Fatalf("revoked credential: %v", m)
	}
	// Disable: the principal's tokens are revoked and it reads as disabled.
	tokB := e.tokensA[core.PrincipalOwner]
	if r := post("/admin/principals/"+e.principals["A-owner"]+"/disable", "", 200); r["disabled"] != e.principals["A-owner"] || r["tokens_revoked"] != float64(1) {
		t.Fatalf("disable: %v", r)
	}
	if st, _, _ := e.do(t, call{method: "GET", path: "/admin/organisations/" + e.orgA, header: bearer(tokB)}); st != 401 {
		t.Fatalf("the disabled owner's token: %d", st)
	}
	if m, _ := get("/admin/principals/" + e.principals["A-owner"]); m["disabled"] != true {
		t.Fatalf("disabled principal: %v", m)
	}
	// An administrator cannot lock itself out.
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/principals/" + e.adminPrincipalID + "/disable", header: admin}); st != 409 {
		t.Fatalf("self-disable: %d %s", st, b)
	}
	events, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: adminapi.Protocol, Outcome: core.OutcomeSuccess})
	if err != nil {
		t.Fatal(err)
	}
	var changes int
	for _, ev := range events {
		if strings.Contains(ev.Reason, "by admin "+e.adminPrincipalID) && ev.RequestID != "" && ev.RemoteAddr != "" {
			changes++
		}
	}
	if changes != 5 { // org, principal, credential created; credential revoked; principal disabled
		t.Fatalf("%d changes audited with the actor, the address and the request id, want 5: %+v", changes, events)
	}
}

// TestAttack_AdminObjectsOfAnotherOrganisation: owners and users read
// their own organisation only; another organisation's objects, named in
// the path or as a principal filter, are not found (as an unknown id is)
// and the refusal audited; another organisation named as the listing's
// org is refused 403 and audited (nothing is looked up); listings without
// a filter are their own organisation's; every change is refused to them.
func TestAttack_AdminObjectsOfAnotherOrganisation(t *testing.T) {
	e := startObjects(t)
	for _, kind := range []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser} {
		tok := bearer(e.tokensA[kind])
		t.Run(string(kind), func(t *testing.T) {
			for _, tt := range []struct {
				method, path, body string
				status             int
			}{
				{"GET", "/admin/organisations/" + e.orgA, "", 200},
				{"GET", "/admin/principals/" + e.principals["A-device"], "", 200},
				{"GET", "/admin/credentials/" + e.creds["A-device"], "", 200},
				{"GET", "/admin/principals", "", 200},
				{"GET", "/admin/credentials?kind=access_key", "", 200},
				{"GET", "/admin/organisations/" + e.orgB, "", 404},
				{"GET", "/admin/organisations/" + core.SystemOrgID, "", 404},
				{"GET", "/admin/principals/" + e.principals["B-owner"], "", 404},
				{"GET", "/admin/principals/" + e.adminPrincipalID, "", 404},
				{"GET", "/admin/credentials/" + e.creds["B-owner"], "", 404},
				{"GET", "/admin/principals?org=" + e.orgB, "", 403},
				{"GET", "/admin/credentials?org=" + e.orgB, "", 403},
				{"GET", "/admin/credentials?principal=" + e.principals["B-owner"], "", 404},
				{"POST", "/admin/organisations", `{"name":"mine"}`, 403},
				{"POST", "/admin/principals", `{"org_id":"` + e.orgA + `","kind":"admin","name":"me-too"}`, 403},
				{"POST", "/admin/credentials", `{"principal_id":"` + e.principals["A-device"] + `"}`, 403},
				{"POST", "/admin/credentials/" + e.creds["A-device"] + "/revoke", "", 403},
				{"POST", "/admin/principals/" + e.principals["A-device"] + "/disable", "", 403},
			} {
				before := forbidden(t, e)
				st, _, b := e.do(t, call{method: tt.method, path: tt.path, body: tt.body, header: tok})
				if st != tt.status {
					t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, st, b, tt.status)
				}
				if (st == 403 || st == 404) && forbidden(t, e) != before+1 {
					t.Fatalf("%s %s: refusal not audited once", tt.method, tt.path)
				}
				if st == 200 && strings.Contains(string(b), e.orgB) {
					t.Fatalf("%s %s shows organisation B: %s", tt.method, tt.path, b)
				}
			}
			st, _, b := e.do(t, call{method: "GET", path: "/admin/organisations", header: tok})
			if m := decodeJSON(t, b); st != 200 || m["total"] != float64(1) || !strings.Contains(string(b), e.orgA) {
				t.Fatalf("own organisations: %d %s", st, b)
			}
		})
	}
	// Nothing changed.
	if p, _ := e.Svc.Store.GetPrincipal(context.Background(), e.principals["A-device"]); p.Disabled {
		t.Fatal("a refused disable disabled")
	}
}

func forbidden(t *testing.T, e *objectsEnv) int {
	t.Helper()
	ev, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ev)
}

// TestAttack_AdminObjectsCallers: device, application and partner tokens
// manage and read nothing; revoked, expired and foreign tokens and a
// forged or CSRF-less session are refused; odd ids are not found; bodies
// that are huge, slow, or choose their own secret are refused.
func TestAttack_AdminObjectsCallers(t *testing.T) {
	e := startObjects(t)
	ctx := context.Background()
	routes := []call{
		{method: "GET", path: "/admin/organisations"},
		{method: "GET", path: "/admin/organisations/" + e.orgA},
		{method: "GET", path: "/admin/principals?org=" + e.orgA},
		{method: "GET", path: "/admin/credentials/" + e.creds["A-owner"]},
		{method: "POST", path: "/admin/credentials", body: `{"principal_id":"` + e.principals["A-owner"] + `"}`},
		{method: "POST", path: "/admin/principals/" + e.principals["A-user"] + "/disable"},
	}
	for _, kind := range []core.PrincipalKind{core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner} {
		for _, c := range routes {
			c.header = bearer(e.tokensA[kind])
			if st, _, b := e.do(t, c); st != 403 {
				t.Errorf("%s token, %s %s: %d %s", kind, c.method, c.path, st, b)
			}
		}
	}
	// A refresh token, another family's token kind, a revoked and an expired token.
	refresh, _, err := e.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenRefresh, OrgID: core.SystemOrgID, PrincipalID: e.adminPrincipalID, PrincipalKind: core.PrincipalAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	revoked, rt, err := e.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: core.SystemOrgID, PrincipalID: e.adminPrincipalID, PrincipalKind: core.PrincipalAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.Tokens.Revoke(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Minute) // e.expiring has expired
	for name, tok := range map[string]string{"refresh token": refresh, "revoked": revoked, "expired": e.expiring, "garbage": "x.y.z"} {
		st, h, b := e.do(t, call{method: "GET", path: "/admin/organisations", header: bearer(tok)})
		if st != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
	// Console sessions: a forged cookie is no session; a real one cannot change without its CSRF token.
	cookie := func(v string) map[string]string { return map[string]string{"Cookie": adminapi.SessionCookie + "=" + v} }
	if st, _, _ := e.do(t, call{method: "GET", path: "/admin/organisations", header: cookie("forged")}); st != 401 {
		t.Errorf("forged session cookie: %d", st)
	}
	if st, _, _ := e.do(t, call{method: "GET", path: "/admin/organisations", header: cookie("admin")}); st != 200 {
		t.Errorf("real session cookie: %d", st)
	}
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/organisations", body: `{"name":"csrf"}`, header: cookie("admin")}); st != 403 {
		t.Errorf("session change without CSRF: %d %s", st, b)
	}
	if _, n, _ := e.Svc.Store.ListOrganisations(ctx, core.Page{Limit: 100}); n != 3 {
		t.Errorf("%d organisations after refused creates, want 3", n)
	}
	// Odd ids: not found, never a server error or another object.
	admin := bearer(e.adminTok)
	for _, id := range []string{"..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%00", "a%20b", "' OR '1'='1", strings.Repeat("f", 5000), strings.ToUpper(e.creds["A-owner"])} {
		for _, p := range []string{"/admin/organisations/", "/admin/principals/", "/admin/credentials/"} {
			st, _, b := e.do(t, call{method: "GET", path: p + id, header: admin})
			if st != 404 && !(id == ".." && st == 301) {
				t.Errorf("GET %s%.40s: %d %.200s", p, id, st, b)
			}
		}
		if st, _, _ := e.do(t, call{method: "POST", path: "/admin/credentials/" + id + "/revoke", header: admin}); st != 404 && !(id == ".." && st == 301) {
			t.Errorf("revoke %.40s: %d", id, st)
		}
	}
	// Bodies.
	huge := `{"name":"` + strings.Repeat("a", 10<<20) + `"}`
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/organisations", body: huge, header: admin}); st != 413 {
		t.Errorf("10 MiB body: %d %.200s", st, b)
	}
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/credentials", body: `{"principal_id":"` + e.principals["A-owner"] + `","secret":"chosen"}`, header: admin}); st != 400 || !strings.Contains(string(b), "unknown field") {
		t.Errorf("a chosen secret: %d %s", st, b)
	}
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/principals", body: `{"org_id":"nosuch","kind":"user","name":"x"}`, header: admin}); st != 404 {
		t.Errorf("principal in no organisation: %d %s", st, b)
	}
	if st, _, b := e.do(t, call{method: "POST", path: "/admin/principals", body: `{"org_id":"` + e.orgA + `","kind":"root","name":"x"}`, header: admin}); st != 400 {
		t.Errorf("unknown kind: %d %s", st, b)
	}
	for _, q := range []string{"kind=root", "org=a&org=b", "orgid=x", "limit=0", "limit=1001", "cursor=-1", "cursor=x", "include_revoked=maybe"} {
		if st, _, b := e.do(t, call{method: "GET", path: "/admin/credentials?" + q, header: admin}); st != 400 {
			t.Errorf("?%s: %d %s", q, st, b)
		}
	}
}

// TestAttack_AdminSlowBody: a body that does not arrive within the
// listener's body_read_timeout is answered 408 and the connection closed;
// nothing is created.
func TestAttack_AdminSlowBody(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	ctx := context.Background()
	if _, err := svc.EnsureBootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	admins, _, err := svc.Store.ListPrincipals(ctx, core.SystemOrgID, core.PrincipalAdmin, core.Page{Limit: 1})
	if err != nil || len(admins) != 1 {
		t.Fatal(err)
	}
	tok, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: core.SystemOrgID, PrincipalID: admins[0].ID, PrincipalKind: core.PrincipalAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	api := agtest.AdminAPI(t, svc, httpapi.ClientAddr{}, adminapi.Objects{Ops: svc}.AdminRoutes())
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Options{Log: svc.Log, Limits: httpapi.Limits{BodyReadTimeout: 200 * time.Millisecond}}, api))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The headers and the start of the body, then nothing.
	fmt.Fprintf(conn, "POST /admin/organisations HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":", u.Host, tok)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails instead of blocking the suite
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("slow body: %d (close %v)", resp.StatusCode, resp.Close)
	}
	if _, n, _ := svc.Store.ListOrganisations(ctx, core.Page{Limit: 10}); n != 1 {
		t.Fatalf("%d organisations, want only the system one", n)
	}
}
