package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

type adminEnv struct {
	*agtest.Env
	ca      *Authority
	tokens  map[core.PrincipalKind]string
	adminID string // the admin principal of tokens[admin]
}

// startAdmin serves the CA's admin routes on the admin API mount, with
// an access token for an admin and for principals of each other kind.
func startAdmin(t *testing.T) adminEnv {
	t.Helper()
	var a *Authority
	env := agtest.Start(t, agtest.Options{ManualClock: t0}, func(svc core.Services) []httpapi.Module {
		a = New(DefaultConfig(), DepsFrom(svc))
		api, err := adminapi.New(adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz}, NewAdmin(a).AdminRoutes())
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{api}
	})
	ctx := context.Background()
	if _, err := a.Init(ctx, InitOptions{Algorithm: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	org, err := env.Svc.CreateOrganisation(ctx, "Sample Organization S.E.")
	if err != nil {
		t.Fatal(err)
	}
	e := adminEnv{Env: env, ca: a, tokens: map[core.PrincipalKind]string{}}
	for _, kind := range []core.PrincipalKind{core.PrincipalAdmin, core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication} {
		o := org.ID
		if kind == core.PrincipalAdmin {
			o = env.Admin.OrgID
		}
		p, err := env.Svc.CreatePrincipal(ctx, o, kind, string(kind)+"-1")
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: o, PrincipalID: p.ID, PrincipalKind: kind, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[kind] = tok
		if kind == core.PrincipalAdmin {
			e.adminID = p.ID
		}
	}
	return e
}

func (e adminEnv) call(t *testing.T, method, path, token string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func (e adminEnv) issue(t *testing.T, cn, env string) View {
	t.Helper()
	ou := Environment(env).OU()
	st, _, b := e.call(t, "POST", "/admin/ca/certificates", e.tokens[core.PrincipalAdmin], jsonBody(IssueBody{
		CSR: string(makeCSR(t, rsa2048, partnerName(ou, cn), nil)), Profile: "signing", Environment: env, ValidityDays: 40}))
	if st != http.StatusCreated {
		t.Fatalf("issue: %d %s", st, b)
	}
	var v View
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAdminRoutes: an administrator issues from a pasted CSR, lists
// (days to expiry, generation), reads one with its PEM, revokes (409 the
// second time, 404 for a serial never issued) and downloads the CRL that
// lists it, DER and PEM, by CA and generation name.
func TestAdminRoutes(t *testing.T) {
	e := startAdmin(t)
	admin := e.tokens[core.PrincipalAdmin]
	v := e.issue(t, "ta.sample.org", "TA")
	if v.Status != StatusValid || v.ExpiresInDays != 40 || v.IssuerRef != "m2m-ta@1" || !strings.Contains(v.Certificate, "BEGIN CERTIFICATE") || !strings.Contains(v.Chain, "BEGIN CERTIFICATE") {
		t.Fatalf("issued: %+v", v)
	}
	e.issue(t, "pe.sample.org", "PE")

	st, _, b := e.call(t, "GET", "/admin/ca/certificates?limit=1", admin, nil)
	var list adminapi.List[View]
	if err := json.Unmarshal(b, &list); st != 200 || err != nil || list.Total != 2 || len(list.Items) != 1 || list.Items[0].Certificate != "" {
		t.Fatalf("list: %d %s", st, b)
	}
	if list.NextCursor != "1" {
		t.Fatalf("first page's next_cursor: %q", list.NextCursor)
	}
	first := list.Items[0].Serial
	st, _, b = e.call(t, "GET", "/admin/ca/certificates?limit=1&cursor="+list.NextCursor, admin, nil)
	list = adminapi.List[View]{}
	if err := json.Unmarshal(b, &list); st != 200 || err != nil || len(list.Items) != 1 || list.Items[0].Serial == first || list.NextCursor != "" {
		t.Fatalf("second page: %d %s", st, b)
	}
	for _, q := range []string{"?offset=1", "?limit=0", "?limit=1001", "?cursor=-1", "?cursor=x", "?org=a&org=b"} {
		if st, _, b := e.call(t, "GET", "/admin/ca/certificates"+q, admin, nil); st != http.StatusBadRequest {
			t.Errorf("list%s: %d %s, want 400", q, st, b)
		}
	}
	st, _, b = e.call(t, "GET", "/admin/ca/certificates/"+strings.ToUpper(v.Serial), admin, nil)
	var got View
	if err := json.Unmarshal(b, &got); st != 200 || err != nil || got.Serial != v.Serial || got.Certificate != v.Certificate {
		t.Fatalf("get: %d %s", st, b)
	}
	blk, _ := pem.Decode([]byte(got.Certificate))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || cert.SerialNumber.Text(16) != v.Serial {
		t.Fatalf("the PEM of the get: %v", err)
	}

	st, _, b = e.call(t, "POST", "/admin/ca/certificates/"+v.Serial+"/revoke", admin, jsonBody(RevokeBody{Reason: "keyCompromise"}))
	if err := json.Unmarshal(b, &got); st != 200 || err != nil || got.Status != StatusRevoked || got.RevocationReason != "keyCompromise" {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if st, _, b = e.call(t, "POST", "/admin/ca/certificates/"+v.Serial+"/revoke", admin, jsonBody(RevokeBody{})); st != http.StatusConflict {
		t.Errorf("second revocation: %d %s, want 409", st, b)
	}
	for _, path := range []string{"/admin/ca/certificates/7fffffffffffffffffffffffffffffffffffffff/revoke", "/admin/ca/certificates/abc123"} {
		method := "GET"
		var body io.Reader
		if strings.HasSuffix(path, "/revoke") {
			method, body = "POST", jsonBody(RevokeBody{})
		}
		if st, _, b := e.call(t, method, path, admin, body); st != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", method, path, st, b)
		}
	}

	for _, name := range []string{"m2m-ta", "m2m-ta@1"} {
		st, h, der := e.call(t, "GET", RouteCRL+"?ca="+name, admin, nil)
		if st != 200 || h.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("CRL %s: %d %s", name, st, h.Get("Content-Type"))
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		issuer, _ := e.ca.IssuingCA(context.Background(), CAM2MTA)
		if err := crl.CheckSignatureFrom(issuer); err != nil || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Text(16) != v.Serial {
			t.Errorf("CRL %s: %v, entries %v", name, err, crl.RevokedCertificateEntries)
		}
	}
	if st, h, b := e.call(t, "GET", RouteCRL+"?ca=m2m-pe&format=pem", admin, nil); st != 200 || !bytes.HasPrefix(b, []byte("-----BEGIN X509 CRL-----")) || h.Get("Content-Type") != "application/x-pem-file" {
		t.Errorf("PEM CRL: %d %s %.40s", st, h.Get("Content-Type"), b)
	}
	for q, want := range map[string]int{"?ca=m2m-ta@2": 404, "?ca=nosuch": 400, "?format=xml": 400, "?ca=" + strings.Repeat("a", 5000): 400} {
		if st, _, b := e.call(t, "GET", RouteCRL+q, admin, nil); st != want {
			t.Errorf("CRL%.40s: %d %s, want %d", q, st, b, want)
		}
	}
	// Every issue and revocation is audited with the admin API's caller.
	evs, _ := e.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "ca", Limit: 50})
	seen := map[string]bool{}
	for _, ev := range evs {
		if ev.PrincipalID == e.adminID && ev.RequestID != "" {
			seen[ev.Action] = true
		}
	}
	if !seen[core.AuditIssue] || !seen[core.AuditRevoke] {
		t.Errorf("audited actions by the admin: %v", seen)
	}
}

// TestAttack_AdminCARoutes: owners, users, devices and applications are
// refused every CA route (403, audited), an anonymous caller 401; a CSR
// whose signature does not verify, garbage and oversized bodies, unknown
// fields and the device profile are refused without issuing anything;
// another generation's serial is revoked on that generation's CRL only.
func TestAttack_AdminCARoutes(t *testing.T) {
	e := startAdmin(t)
	admin := e.tokens[core.PrincipalAdmin]
	v := e.issue(t, "ta.sample.org", "TA")
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/ca/certificates", nil},
		{"GET", "/admin/ca/certificates/" + v.Serial, nil},
		{"POST", "/admin/ca/certificates", IssueBody{CSR: string(makeCSR(t, rsa2048, partnerName("M2M_TA", "x.sample.org"), nil)), Profile: "signing", Environment: "TA"}},
		{"POST", "/admin/ca/certificates/" + v.Serial + "/revoke", RevokeBody{}},
		{"GET", RouteCRL, nil},
	}
	for _, kind := range []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, ""} {
		for _, r := range routes {
			var body io.Reader
			if r.body != nil {
				body = jsonBody(r.body)
			}
			want := http.StatusForbidden
			if kind == "" {
				want = http.StatusUnauthorized
			}
			if st, _, b := e.call(t, r.method, r.path, e.tokens[kind], body); st != want {
				t.Errorf("%s %s as %q: %d %s, want %d", r.method, r.path, kind, st, b, want)
			}
		}
	}
	if evs, _ := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Limit: 100}); len(evs) < 4*len(routes) {
		t.Errorf("refusals audited: %d, want %d", len(evs), 4*len(routes))
	}

	good := makeCSR(t, rsa2048, partnerName("M2M_TA", "y.sample.org"), nil)
	blk, _ := pem.Decode(good)
	bad := bytes.Clone(blk.Bytes)
	bad[len(bad)-3] ^= 0x55
	for name, c := range map[string]struct {
		body string
		want int
	}{
		"wrong signature":                   {mustMarshal(IssueBody{CSR: string(pemBlock("CERTIFICATE REQUEST", bad)), Profile: "signing", Environment: "TA"}), 400},
		"garbage PEM":                       {mustMarshal(IssueBody{CSR: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", Profile: "signing", Environment: "TA"}), 400},
		"huge body":                         {mustMarshal(IssueBody{CSR: strings.Repeat("A", 1<<20), Profile: "signing", Environment: "TA"}), 413},
		"CSR over 64 KiB in the body limit": {mustMarshal(IssueBody{CSR: strings.Repeat("A", MaxCSRSize-200) + strings.Repeat("B", 300), Profile: "signing", Environment: "TA"}), 0},
		"unknown field":                     {`{"csr":"x","profile":"signing","environment":"TA","is_ca":true}`, 400},
		"not JSON":                          {string(good), 400},
		"device profile":                    {mustMarshal(IssueBody{CSR: string(good), Profile: "device"}), 400},
		"no environment":                    {mustMarshal(IssueBody{CSR: string(good), Profile: "signing"}), 400},
		"wrong OU":                          {mustMarshal(IssueBody{CSR: string(good), Profile: "signing", Environment: "PE"}), 400},
	} {
		st, _, b := e.call(t, "POST", "/admin/ca/certificates", admin, strings.NewReader(c.body))
		if c.want == 0 { // over the admin API's body limit or refused by the CA's: never issued
			if st != 400 && st != 413 {
				t.Errorf("%s: %d %s, want 400 or 413", name, st, b)
			}
			continue
		}
		if st != c.want {
			t.Errorf("%s: %d %s, want %d", name, st, b, c.want)
		}
	}
	if _, total, _ := e.ca.List(context.Background(), "", core.Page{Limit: 10}); total != 1 {
		t.Fatalf("certificates after refused requests: %d, want 1", total)
	}

	// Another generation's serial: revoked on generation 1's CRL, not on the current one's.
	if _, err := e.ca.Rollover(context.Background(), InitOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(10 * time.Second) // past the material's refresh bound
	cur := e.issue(t, "new.sample.org", "TA")
	if cur.Generation != 2 {
		t.Fatalf("after the rollover: %+v", cur)
	}
	if st, _, b := e.call(t, "POST", "/admin/ca/certificates/"+v.Serial+"/revoke", admin, jsonBody(RevokeBody{Reason: "superseded"})); st != 200 {
		t.Fatalf("revoke generation 1's certificate: %d %s", st, b)
	}
	count := func(name string) int {
		_, _, der := e.call(t, "GET", RouteCRL+"?ca="+name, admin, nil)
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("CRL %s: %v", name, err)
		}
		return len(crl.RevokedCertificateEntries)
	}
	if n1, n2 := count("m2m-ta@1"), count("m2m-ta"); n1 != 1 || n2 != 0 {
		t.Errorf("CRL entries: generation 1 %d (want 1), current %d (want 0)", n1, n2)
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
