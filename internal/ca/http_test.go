package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

type apiEnv struct {
	*agtest.Env
	ca                     *Authority
	adminToken, userToken  string
	expiredToken, revToken string
}

func startAPI(t *testing.T) apiEnv {
	t.Helper()
	var a *Authority
	env := agtest.Start(t, agtest.Options{ManualClock: t0}, func(svc core.Services) []httpapi.Module {
		a = New(DefaultConfig(), DepsFrom(svc))
		return []httpapi.Module{NewModule(a, svc.BearerAuth(), httpapi.ClientAddr{})}
	})
	ctx := context.Background()
	if _, err := a.Init(ctx, InitOptions{Algorithm: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	svc := env.Svc
	admin, err := svc.Store.FindPrincipal(ctx, core.SystemOrgID, core.PrincipalAdmin, "bootstrap-admin")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(p core.Principal, ttl time.Duration) string {
		v, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	org, _ := svc.CreateOrganisation(ctx, "Sample Organization S.E.")
	user, _ := svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "partner-user")
	e := apiEnv{Env: env, ca: a, adminToken: issue(admin, time.Hour), userToken: issue(user, time.Hour),
		expiredToken: issue(admin, time.Minute)}
	e.revToken = issue(admin, time.Hour)
	tok, _ := svc.Tokens.Lookup(ctx, core.TokenAccess, e.revToken)
	if err := svc.Tokens.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e apiEnv) do(t *testing.T, method, path, token, accept string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
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
	return resp, b
}

func TestAPIAuthentication(t *testing.T) {
	e := startAPI(t)
	e.Clock.Advance(2 * time.Minute) // the short token has expired
	csr := string(makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil))
	sign := signBody{CSR: csr, Profile: "signing", Environment: "TA"}
	admin := []struct{ method, path string }{
		{"POST", "/ca/sign"}, {"GET", "/ca/certificates"}, {"GET", "/ca/certificates/abc"}, {"POST", "/ca/certificates/abc/revoke"},
	}
	for _, ep := range admin {
		for _, c := range []struct {
			name, token string
			status      int
		}{
			{"no token", "", 401}, {"unknown token", "nope", 401}, {"expired", e.expiredToken, 401},
			{"revoked", e.revToken, 401}, {"non-admin", e.userToken, 403},
		} {
			t.Run(ep.method+ep.path+"/"+c.name, func(t *testing.T) {
				resp, body := e.do(t, ep.method, ep.path, c.token, "", sign)
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
				}
				if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Error("401 without a Bearer challenge")
				}
				var ae apiError
				if json.Unmarshal(body, &ae) != nil || ae.Error == "" {
					t.Errorf("error body %s", body)
				}
			})
		}
	}
	// Malformed header.
	req, _ := http.NewRequest("GET", e.URL+"/ca/certificates", nil)
	req.Header.Set("Authorization", "Basic YTpi")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("Basic auth: %v %v", err, resp.StatusCode)
	}
	// Nothing was issued, and the failures are audited.
	recs, total, _ := e.ca.List(context.Background(), "", core.Page{})
	if total != 0 || len(recs) != 0 {
		t.Fatalf("%d certificates issued without authorisation", total)
	}
	events, _ := e.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "ca", Action: core.AuditAuthFailure})
	if len(events) < len(admin)*4 {
		t.Errorf("%d auth failures audited, want at least %d", len(events), len(admin)*4)
	}
	// The non-admin's attempts are refused by the privilege check, which audits them.
	forbidden, _ := e.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "ca", Action: core.AuditForbidden})
	if len(forbidden) != len(admin) {
		t.Errorf("%d privilege refusals audited, want %d", len(forbidden), len(admin))
	}
}

func TestAPIFlow(t *testing.T) {
	e := startAPI(t)
	csr := string(makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil))

	// JSON answer.
	resp, body := e.do(t, "POST", "/ca/sign", e.adminToken, "", signBody{CSR: csr, Profile: "ssl-server", Environment: "ta", ValidityDays: 365})
	if resp.StatusCode != 201 {
		t.Fatalf("sign: %d %s", resp.StatusCode, body)
	}
	var sr signResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(sr.Certificate))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.Sub(t0) != 365*24*time.Hour || cert.DNSNames[0] != "ta.sample.org" || resp.Header.Get("Location") != "/ca/certificates/"+sr.Serial {
		t.Errorf("cert %v %v, location %s", cert.NotAfter, cert.DNSNames, resp.Header.Get("Location"))
	}

	// PEM answer (RFC 8555 media type).
	resp, body = e.do(t, "POST", "/ca/sign", e.adminToken, "application/pem-certificate-chain", signBody{CSR: csr, Profile: "signing", Environment: "TA"})
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != pemChainType || !strings.HasPrefix(string(body), "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("PEM sign: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// Policy violation: 400 with the rule.
	resp, body = e.do(t, "POST", "/ca/sign", e.adminToken, "", signBody{CSR: csr, Profile: "signing", Environment: "PE"})
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	if resp.StatusCode != 400 || ae.Error != "policy_violation" || !strings.Contains(ae.Description, `"M2M"`) {
		t.Fatalf("wrong OU: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "POST", "/ca/sign", e.adminToken, "", signBody{CSR: csr, Profile: "signing", Environment: "QA"})
	if resp.StatusCode != 400 {
		t.Fatalf("bad environment: %d %s", resp.StatusCode, body)
	}

	// List and get.
	resp, body = e.do(t, "GET", "/ca/certificates?limit=10", e.adminToken, "", nil)
	var lr listResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &lr) != nil || lr.Total != 2 || len(lr.Items) != 2 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, "GET", "/ca/certificates?limit=0", e.adminToken, "", nil); resp.StatusCode != 400 {
		t.Errorf("limit=0: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "/ca/certificates/"+strings.ToUpper(sr.Serial), e.adminToken, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), sr.Serial) {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}

	// Revoke; the public CRL lists it.
	resp, body = e.do(t, "POST", "/ca/certificates/"+sr.Serial+"/revoke", e.adminToken, "", revokeBody{Reason: "superseded"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"revocation_reason":"superseded"`) {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, "POST", "/ca/certificates/"+sr.Serial+"/revoke", e.adminToken, "", nil); resp.StatusCode != 409 {
		t.Errorf("revoke twice: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/ca/certificates/1234/revoke", e.adminToken, "", nil); resp.StatusCode != 404 {
		t.Errorf("revoke unknown: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "/ca/crl?ca=m2m-ta", "", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("crl: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) != 0 || crl.RevokedCertificateEntries[0].ReasonCode != 4 {
		t.Errorf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	resp, body = e.do(t, "GET", "/ca/crl?format=pem", "", "", nil)
	if b, _ := pem.Decode(body); resp.StatusCode != 200 || b == nil || b.Type != "X509 CRL" {
		t.Fatalf("PEM CRL: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "/ca/cacert", "", "", nil)
	root, _ := e.ca.Root(context.Background())
	if resp.StatusCode != 200 || string(body) != pemCert(root) {
		t.Fatalf("cacert: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "/ca/cacert?ca=m2m-ta", "", "", nil)
	ta, _ := e.ca.IssuingCA(context.Background(), CAM2MTA)
	if resp.StatusCode != 200 || string(body) != pemCert(ta) {
		t.Fatalf("cacert?ca=m2m-ta: %d", resp.StatusCode)
	}
	if err := crl.CheckSignatureFrom(ta); err != nil {
		t.Error(err)
	}
	if err := cert.CheckSignatureFrom(ta); err != nil {
		t.Errorf("TA certificate not issued by the M2M TA CA: %v", err)
	}
	// The legacy CRL (the root's here) lists nothing of the issuing CAs.
	resp, body = e.do(t, "GET", "/ca/crl", "", "", nil)
	if rootCRL, err := x509.ParseRevocationList(body); resp.StatusCode != 200 || err != nil || rootCRL.CheckSignatureFrom(root) != nil || len(rootCRL.RevokedCertificateEntries) != 0 {
		t.Errorf("root CRL: %d %v", resp.StatusCode, err)
	}
}
