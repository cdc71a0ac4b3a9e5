package oauth2_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
)

// The attacks of issue #17 "Privilege and binding": a device's token used
// for management, a certificate-bound token replayed without (or with
// another) certificate, and tokens outliving their certificate.

// testDevice is an issued device certificate with its HTTP client (presenting
// the certificate on the mTLS listener) and its tls_client_auth token.
type testDevice struct {
	cert   issuedCert
	client *http.Client
	token  string
}

// newDevice issues a device certificate through the organisation user's
// API and gets the device's token with tls_client_auth.
func (w *idWorld) newDevice(t *testing.T, name string) testDevice {
	t.Helper()
	var c issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, `{"Name":"`+name+`"}`, &c); st != http.StatusCreated {
		t.Fatalf("issue %s: %d", name, st)
	}
	d := testDevice{cert: c, client: w.mtlsClient(t, c)}
	resp, err := d.client.PostForm(w.mtlsURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("tls_client_auth for %s: %d %v", name, resp.StatusCode, err)
	}
	d.token = tr.AccessToken
	return d
}

// call sends a request with a bearer token through client (nil: no
// client certificate, plain HTTP to the main listener).
func call(t *testing.T, client *http.Client, method, u, token, body string) resp {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// wantForbidden checks a 403 in the device-server error shape and that
// the refusal was audited with its reason.
func (w *idWorld) wantForbidden(t *testing.T, r resp, action core.Action) {
	t.Helper()
	if r.Status != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", r.Status, r.Body)
	}
	if m := r.json(t); m["error"] != "insufficient_scope" || !strings.Contains(m["error_description"].(string), string(action)) {
		t.Fatalf("403 body %s", r.Body)
	}
	w.wantAudited(t, action)
}

// wantAudited checks that a refusal of action was audited with its reason.
func (w *idWorld) wantAudited(t *testing.T, action core.Action) {
	t.Helper()
	events, err := w.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.HasPrefix(e.Reason, string(action)+": ") && e.Outcome == core.OutcomeFailure {
			return
		}
	}
	t.Fatalf("no audited refusal of %s among %+v", action, events)
}

func (w *idWorld) countKeys(t *testing.T, orgID string) int {
	t.Helper()
	_, n, err := w.env.Svc.Store.ListCredentials(context.Background(), core.CredentialFilter{OrgID: orgID, Kind: core.CredAccessKey}, core.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// userKey creates an access key with the organisation user's token.
func (w *idWorld) userKey(t *testing.T, name string) (key, secret, orgID string) {
	t.Helper()
	var k struct{ Key, Secret string }
	if st := idJSON(t, "POST", w.env.URL+"/accesskeys", w.token, `{"Name":"`+name+`"}`, &k); st != http.StatusCreated {
		t.Fatalf("create key: %d", st)
	}
	cred, err := w.env.Svc.Store.FindCredential(context.Background(), core.CredAccessKey, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	return k.Key, k.Secret, cred.OrgID
}

// TestAttack_DeviceTokenCannotCreateAccessKey: a device's token creates no
// access key (and so gets no password grant): without its certificate on
// the main listener the bound token is refused (401), with it on the mTLS
// listener the privilege table refuses the device (403, audited).
func TestAttack_DeviceTokenCannotCreateAccessKey(t *testing.T) {
	w := newIDWorld(t)
	_, _, org := w.userKey(t, "existing")
	d := w.newDevice(t, "sensor-1")
	before := w.countKeys(t, org)
	for _, tc := range []struct {
		name   string
		client *http.Client
		base   string
		status int
	}{
		{"main listener, no certificate", nil, w.env.URL, http.StatusUnauthorized},
		{"mTLS listener, the device's certificate", d.client, w.mtlsURL, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.client, "POST", tc.base+"/accesskeys", d.token, `{"Name":"device-made"}`)
			if r.Status != tc.status || strings.Contains(string(r.Body), `"Secret"`) {
				t.Fatalf("POST /accesskeys with the device token: %d %s", r.Status, r.Body)
			}
			if tc.status == http.StatusForbidden {
				w.wantForbidden(t, r, core.ActAccessKeysCreate)
			}
		})
	}
	if after := w.countKeys(t, org); after != before {
		t.Fatalf("access keys %d -> %d: the device created one", before, after)
	}
}

// TestAttack_DeviceTokenCannotDeleteAnotherAccessKey: a device cannot
// delete (or read, or rename) its organisation's access keys; the key
// keeps working.
func TestAttack_DeviceTokenCannotDeleteAnotherAccessKey(t *testing.T) {
	w := newIDWorld(t)
	key, secret, _ := w.userKey(t, "victim")
	d := w.newDevice(t, "sensor-1")
	for _, tc := range []struct {
		method, body string
		action       core.Action
	}{
		{"DELETE", "", core.ActAccessKeysDelete},
		{"PUT", `{"Name":"renamed"}`, core.ActAccessKeysUpdate},
		{"GET", "", core.ActAccessKeysRead},
	} {
		t.Run(tc.method, func(t *testing.T) {
			w.wantForbidden(t, call(t, d.client, tc.method, w.mtlsURL+"/accesskeys/"+key, d.token, tc.body), tc.action)
		})
	}
	w.wantForbidden(t, call(t, d.client, "GET", w.mtlsURL+"/accesskeys", d.token, ""), core.ActAccessKeysRead)
	if _, st := idPassword(t, w.env.URL, key, secret); st != http.StatusOK {
		t.Fatalf("the key stopped working after the device's attempts: %d", st)
	}
}

// TestAttack_DeviceCannotDeleteAnotherDevicesCertificate: device A cannot
// revoke device B's certificate (nor issue, list or delete identities);
// B keeps authenticating.
func TestAttack_DeviceCannotDeleteAnotherDevicesCertificate(t *testing.T) {
	w := newIDWorld(t)
	a, b := w.newDevice(t, "device-a"), w.newDevice(t, "device-b")
	w.wantForbidden(t, call(t, a.client, "DELETE", w.mtlsURL+"/identities/certificates/"+b.cert.SerialNumber, a.token, ""), core.ActIdentitiesCertificatesDelete)
	w.wantForbidden(t, call(t, a.client, "GET", w.mtlsURL+"/identities/certificates", a.token, ""), core.ActIdentitiesRead)
	w.wantForbidden(t, call(t, a.client, "POST", w.mtlsURL+"/identities/certificates", a.token, `{"Name":"device-c"}`), core.ActIdentitiesCertificatesCreate)
	w.wantForbidden(t, call(t, a.client, "POST", w.mtlsURL+"/identities/psk", a.token, ""), core.ActIdentitiesPSKCreate)
	rec, _, err := w.authority.Get(context.Background(), b.cert.SerialNumber)
	if err != nil || rec.RevokedAt != nil {
		t.Fatalf("B's certificate record: %+v %v", rec, err)
	}
	if st, out := getJSON(t, b.client, w.mtlsURL+"/identities/current"); st != http.StatusOK || out["Identity"] != "device-b" {
		t.Fatalf("B after A's attempts: %d %v", st, out)
	}
	// What a device may do: read its own identity, with its certificate.
	if st, out := getJSON(t, a.client, w.mtlsURL+"/identities/current"); st != http.StatusOK || out["Identity"] != "device-a" {
		t.Fatalf("A's own identity: %d %v", st, out)
	}
}

// TestAttack_DeviceEntryPointListsNoManagementLinks: GET / shows a device
// only the links it may use, none of the management APIs.
func TestAttack_DeviceEntryPointListsNoManagementLinks(t *testing.T) {
	w := newIDWorld(t)
	d := w.newDevice(t, "sensor-1")
	rels := func(r resp) []string {
		var doc struct{ Links []struct{ Rel string } }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &doc) != nil {
			t.Fatalf("GET /: %d %s", r.Status, r.Body)
		}
		var out []string
		for _, l := range doc.Links {
			out = append(out, l.Rel)
		}
		return out
	}
	if got := strings.Join(rels(call(t, d.client, "GET", w.mtlsURL+"/", d.token, "")), ","); got != "authenticate,versions" {
		t.Fatalf("device entry point links: %s", got)
	}
	if got := strings.Join(rels(call(t, nil, "GET", w.env.URL+"/", w.token, "")), ","); got != "authenticate,accesskeys,identities,versions" {
		t.Fatalf("user entry point links: %s", got)
	}
}

// TestAttack_UserOfOrgACannotReachOrgB: a user of organisation A reaches
// none of organisation B's keys, certificates or PSKs (answered as not
// found, so B's objects are not even confirmed), every attempt is audited,
// and B's objects are untouched.
func TestAttack_UserOfOrgACannotReachOrgB(t *testing.T) {
	w := newIDWorld(t)
	admin, _ := idPassword(t, w.env.URL, w.env.Admin.Key, w.env.Admin.Secret)
	var orgB struct{ Key, Secret string }
	if st := idJSON(t, "POST", w.env.URL+"/accesskeys", admin, `{"Name":"Org B"}`, &orgB); st != http.StatusCreated {
		t.Fatalf("org B: %d", st)
	}
	tokB, _ := idPassword(t, w.env.URL, orgB.Key, orgB.Secret)
	var certB issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", tokB, `{"Name":"b-device"}`, &certB); st != http.StatusCreated {
		t.Fatalf("B's certificate: %d", st)
	}
	var pskB struct{ Identity string }
	if st := idJSON(t, "POST", w.env.URL+"/identities/psk", tokB, "", &pskB); st != http.StatusCreated {
		t.Fatalf("B's PSK: %d", st)
	}
	for _, tc := range []struct {
		method, path, body string
		action             core.Action
	}{
		{"GET", "/accesskeys/" + orgB.Key, "", core.ActAccessKeysRead},
		{"PUT", "/accesskeys/" + orgB.Key, `{"Name":"mine now"}`, core.ActAccessKeysUpdate},
		{"DELETE", "/accesskeys/" + orgB.Key, "", core.ActAccessKeysDelete},
		{"GET", "/identities/certificates/" + certB.SerialNumber, "", core.ActIdentitiesRead},
		{"DELETE", "/identities/certificates/" + certB.SerialNumber, "", core.ActIdentitiesCertificatesDelete},
		{"GET", "/identities/psk/" + pskB.Identity, "", core.ActIdentitiesRead},
		{"DELETE", "/identities/psk/" + pskB.Identity, "", core.ActIdentitiesPSKDelete},
	} {
		t.Run(tc.method+" "+string(tc.action), func(t *testing.T) {
			r := call(t, nil, tc.method, w.env.URL+tc.path, w.token, tc.body)
			if r.Status != http.StatusNotFound {
				t.Fatalf("%s %s by org A: %d %s", tc.method, tc.path, r.Status, r.Body)
			}
			w.wantAudited(t, tc.action)
		})
	}
	if _, st := idPassword(t, w.env.URL, orgB.Key, orgB.Secret); st != http.StatusOK {
		t.Fatalf("B's key after A's attempts: %d", st)
	}
	if k, _ := w.env.Svc.Store.FindCredential(context.Background(), core.CredAccessKey, orgB.Key); k.Name != "Org B" {
		t.Fatalf("B's key renamed to %q", k.Name)
	}
	if rec, _, err := w.authority.Get(context.Background(), certB.SerialNumber); err != nil || rec.RevokedAt != nil {
		t.Fatalf("B's certificate: %+v %v", rec, err)
	}
	if _, err := w.env.Svc.Credentials.Find(context.Background(), core.CredPSK, pskB.Identity); err != nil {
		t.Fatalf("B's PSK: %v", err)
	}
}

// introspectAs introspects token with a bearer token on the main listener.
func introspectAs(t *testing.T, base, bearerToken, token string) resp {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth/introspect", strings.NewReader("token="+url.QueryEscape(token)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+bearerToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// wantInvalidToken checks RFC 6750's 401 invalid_token with its challenge.
func wantInvalidToken(t *testing.T, r resp, desc string) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
	}
	if m := r.json(t); m["error"] != "invalid_token" || !strings.Contains(m["error_description"].(string), desc) {
		t.Fatalf("401 body %s", r.Body)
	}
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", ch)
	}
}

// TestAttack_BoundTokenReplayedOnMainListenerWithoutCert: a token issued
// through tls_client_auth, stolen and replayed without the certificate on
// the main listener, is refused on every route that accepts tokens, on
// SQLite and PostgreSQL; introspection shows its binding.
func TestAttack_BoundTokenReplayedOnMainListenerWithoutCert(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			w := newIDWorldOn(t, backend(t))
			d := w.newDevice(t, "sensor-1")
			for _, path := range []string{"/", "/accesskeys", "/identities", "/identities/certificates"} {
				wantInvalidToken(t, call(t, nil, "GET", w.env.URL+path, d.token, ""), "bound to a client certificate")
			}
			wantInvalidToken(t, introspectAs(t, w.env.URL, d.token, d.token), "bound to a client certificate")

			// Introspection by an admin shows the confirmation (RFC 8705 section 3.2).
			admin, _ := idPassword(t, w.env.URL, w.env.Admin.Key, w.env.Admin.Secret)
			r := introspectAs(t, w.env.URL, admin, d.token)
			var in struct {
				Active bool
				Cnf    map[string]string
			}
			block, _ := pem.Decode([]byte(d.cert.Certificate))
			leaf, _ := x509.ParseCertificate(block.Bytes)
			if json.Unmarshal(r.Body, &in) != nil || !in.Active || in.Cnf["x5t#S256"] != core.CertThumbprint(leaf.Raw) || len(in.Cnf["x5t#S256"]) != 43 {
				t.Fatalf("introspection: %d %s", r.Status, r.Body)
			}
			// With its certificate the token works.
			if r := call(t, d.client, "GET", w.mtlsURL+"/", d.token, ""); r.Status != http.StatusOK {
				t.Fatalf("with its certificate: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestAttack_BoundTokenWithDifferentClientCert: device A's token presented
// on the mTLS listener by device B (B's own valid certificate) is refused.
func TestAttack_BoundTokenWithDifferentClientCert(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			w := newIDWorldOn(t, backend(t))
			a, b := w.newDevice(t, "device-a"), w.newDevice(t, "device-b")
			for _, path := range []string{"/", "/identities"} {
				wantInvalidToken(t, call(t, b.client, "GET", w.mtlsURL+path, a.token, ""), "bound to another client certificate")
			}
			if r := call(t, a.client, "GET", w.mtlsURL+"/", a.token, ""); r.Status != http.StatusOK {
				t.Fatalf("A with its own certificate: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestAttack_RevokedCertificateTokensRefused: revoking a device
// certificate, with the CA alone (what `authgate ca revoke` calls) or
// through DELETE /identities/certificates/{serial}, revokes at once the
// tokens issued on it, on SQLite and PostgreSQL.
func TestAttack_RevokedCertificateTokensRefused(t *testing.T) {
	for name, backend := range backends() {
		for _, how := range []string{"ca revoke", "DELETE /identities/certificates"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				w := newIDWorldOn(t, backend(t))
				d := w.newDevice(t, "sensor-1")
				other := w.newDevice(t, "sensor-2")
				if r := call(t, d.client, "GET", w.mtlsURL+"/", d.token, ""); r.Status != http.StatusOK {
					t.Fatalf("before: %d", r.Status)
				}
				switch how {
				case "ca revoke":
					if _, err := w.authority.Revoke(context.Background(), ca.RevokeRequest{Serial: d.cert.SerialNumber, Reason: "keyCompromise", OrgID: core.SystemOrgID, RemoteAddr: "cli"}); err != nil {
						t.Fatal(err)
					}
				default:
					if st := idJSON(t, "DELETE", w.env.URL+"/identities/certificates/"+d.cert.SerialNumber, w.token, "", nil); st != http.StatusNoContent {
						t.Fatalf("delete: %d", st)
					}
				}
				// The handshake still succeeds (the chain is valid); the token is dead.
				wantInvalidToken(t, call(t, d.client, "GET", w.mtlsURL+"/", d.token, ""), "revoked")
				if _, err := w.env.Svc.Tokens.Lookup(context.Background(), core.TokenAccess, d.token); core.KindOf(err) != core.KindRevoked {
					t.Fatalf("token after revocation: %v", err)
				}
				// Another device's token is untouched.
				if r := call(t, other.client, "GET", w.mtlsURL+"/", other.token, ""); r.Status != http.StatusOK {
					t.Fatalf("the other device: %d %s", r.Status, r.Body)
				}
				events, _ := w.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditRevoke})
				found := false
				for _, e := range events {
					found = found || strings.Contains(e.Reason, "1 tokens issued on it revoked")
				}
				if !found {
					t.Fatalf("no audit record of the token revocation: %+v", events)
				}
			})
		}
	}
}

// TestAttack_BoundRefreshTokenWithoutItsCert: a refresh token bound to a
// device certificate refreshes only over a connection presenting that
// certificate, and the pair it yields is bound to the same certificate.
// (No grant issues bound refresh tokens today: tls_client_auth is
// client_credentials, which has none; the rule holds for any that will.)
func TestAttack_BoundRefreshTokenWithoutItsCert(t *testing.T) {
	w := newIDWorld(t)
	a, b := w.newDevice(t, "device-a"), w.newDevice(t, "device-b")
	ctx := context.Background()
	at, err := w.env.Svc.Tokens.Lookup(ctx, core.TokenAccess, a.token)
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := w.env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenRefresh, OrgID: at.OrgID, PrincipalID: at.PrincipalID,
		PrincipalKind: core.PrincipalDevice, CredentialID: at.CredentialID, CertThumbprint: at.CertThumbprint, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(c *http.Client, base string) resp {
		t.Helper()
		if c == nil {
			c = http.DefaultClient
		}
		res, err := c.PostForm(base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return resp{Status: res.StatusCode, Header: res.Header, Body: body}
	}
	for name, r := range map[string]resp{
		"main listener, no certificate":  refresh(nil, w.env.URL),
		"mTLS listener, B's certificate": refresh(b.client, w.mtlsURL),
	} {
		if m := r.json(t); r.Status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	r := refresh(a.client, w.mtlsURL)
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(r.Body, &pair); err != nil || r.Status != http.StatusOK || pair.AccessToken == "" {
		t.Fatalf("refresh with A's certificate: %d %s", r.Status, r.Body)
	}
	for _, v := range []struct {
		kind  core.TokenKind
		value string
	}{{core.TokenAccess, pair.AccessToken}, {core.TokenRefresh, pair.RefreshToken}} {
		tok, err := w.env.Svc.Tokens.Lookup(ctx, v.kind, v.value)
		if err != nil || tok.CertThumbprint != at.CertThumbprint || tok.CredentialID != at.CredentialID {
			t.Fatalf("rotated %s token lost its binding: %+v %v", v.kind, tok, err)
		}
	}
	wantInvalidToken(t, call(t, nil, "GET", w.env.URL+"/", pair.AccessToken, ""), "bound to a client certificate")
}
