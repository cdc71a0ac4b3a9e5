package cli

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminCAAndStatsEndToEnd: the real server mounts the CA's admin
// routes and the dashboard on the admin API. An administrator issues a
// certificate from a pasted CSR, revokes it, downloads the CRL listing
// it, and reads the dashboard: the bearer checks made before (one
// passing, three failing) are counted under oauth2, the 10-day certificate as expiring. An
// owner's token is refused both (403).
func TestAdminCAAndStatsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", dir}
	runCLI(t, append(data, "ca", "init", "--algorithm", "ecdsa", "--out", filepath.Join(t.TempDir(), "root.pem"))...)
	var org, owner, cred map[string]any
	mustJSONOut(t, runCLI(t, append(data, "admin", "org", "create", "--name", "acme")...), &org)
	mustJSONOut(t, runCLI(t, append(data, "admin", "principal", "create", "--org", org["id"].(string), "--kind", "owner", "--name", "boss")...), &owner)
	mustJSONOut(t, runCLI(t, append(data, "admin", "credential", "create", "--principal", owner["id"].(string), "--kind", "access_key")...), &cred)
	s := startServer(t, data...)
	key, secret := bootstrapCredentials(t, s)
	admin, err := passwordToken(s.url, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	ownerToken, err := passwordToken(s.url, cred["lookup"].(string), cred["secret"].(string))
	if err != nil {
		t.Fatalf("owner token (%v): %v", cred, err)
	}
	call := func(method, path, token, body string) (int, http.Header, []byte) {
		t.Helper()
		a := ask(t, s.url, token, method, path, body)
		return a.status, a.header, []byte(a.body)
	}

	// One bearer check that passes, three that fail (the oauth2 family's scheme).
	for _, bearer := range []string{admin, "not-a-token", "x", admin + "x"} {
		if st, _, _ := call("GET", "/accesskeys", bearer, ""); (st == 200) != (bearer == admin) {
			t.Fatalf("GET /accesskeys with %.10s: %d", bearer, st)
		}
	}

	csrPath := filepath.Join(t.TempDir(), "req.csr")
	goldenCSR(t, csrPath)
	csr, _ := os.ReadFile(csrPath)
	body, _ := json.Marshal(map[string]any{"csr": string(csr), "profile": "signing", "environment": "TA", "validity_days": 10})
	st, _, b := call("POST", "/admin/ca/certificates", admin, string(body))
	var issued struct {
		Serial        string `json:"serial"`
		ExpiresInDays int    `json:"expires_in_days"`
		Certificate   string `json:"certificate"`
	}
	if err := json.Unmarshal(b, &issued); st != http.StatusCreated || err != nil || issued.ExpiresInDays != 9 || !strings.Contains(issued.Certificate, "BEGIN CERTIFICATE") {
		t.Fatalf("issue: %d %s", st, b)
	}
	if st, _, b := call("POST", "/admin/ca/certificates", ownerToken, string(body)); st != http.StatusForbidden {
		t.Errorf("owner issues: %d %s", st, b)
	}

	st, _, b = call("GET", "/admin/stats", admin, "")
	var stats struct {
		Scope    string `json:"scope"`
		Families []struct {
			Family            string `json:"family"`
			Requests, Denials int
			PerMinute         []json.RawMessage `json:"per_minute"`
		} `json:"families"`
		Certificates struct {
			Count int `json:"count"`
			Items []struct {
				Source, Serial string
			} `json:"items"`
		} `json:"certificates"`
		Callbacks struct {
			Failed int `json:"failed"`
		} `json:"callbacks"`
	}
	if err := json.Unmarshal(b, &stats); st != 200 || err != nil || stats.Scope != "node" {
		t.Fatalf("stats: %d %s", st, b)
	}
	var oauth2Denials, oauth2Requests int
	for _, f := range stats.Families {
		if f.Family == "oauth2" {
			oauth2Denials, oauth2Requests = f.Denials, f.Requests
			if len(f.PerMinute) != 60 {
				t.Errorf("oauth2 per minute: %d buckets", len(f.PerMinute))
			}
		}
	}
	if oauth2Denials < 3 || oauth2Requests < 4 {
		t.Errorf("oauth2 counted %d requests, %d denials; want at least 4 and 3:\n%s", oauth2Requests, oauth2Denials, b)
	}
	if stats.Certificates.Count != 1 || stats.Certificates.Items[0].Source != "issued" || stats.Certificates.Items[0].Serial != issued.Serial {
		t.Errorf("expiring certificates: %+v", stats.Certificates)
	}
	if st, _, b := call("GET", "/admin/stats", ownerToken, ""); st != http.StatusForbidden {
		t.Errorf("owner reads the dashboard: %d %s", st, b)
	}

	if st, _, b := call("POST", "/admin/ca/certificates/"+issued.Serial+"/revoke", admin, `{"reason":"keyCompromise"}`); st != 200 {
		t.Fatalf("revoke: %d %s", st, b)
	}
	st, h, der := call("GET", "/admin/ca/crl?ca=m2m-ta", admin, "")
	crl, err := x509.ParseRevocationList(der)
	if st != 200 || h.Get("Content-Type") != "application/pkix-crl" || err != nil || len(crl.RevokedCertificateEntries) != 1 ||
		crl.RevokedCertificateEntries[0].SerialNumber.Text(16) != issued.Serial {
		t.Fatalf("CRL: %d %s %v", st, h.Get("Content-Type"), err)
	}
	stopServer(t, s)
	// The CLI sees the same record through the same operation.
	var got map[string]any
	mustJSONOut(t, runCLI(t, append(data, "ca", "get", issued.Serial)...), &got)
	if got["status"] != "revoked" || got["revocation_reason"] != "keyCompromise" {
		t.Errorf("ca get after the admin API's revocation: %v", got)
	}
}

func mustJSONOut(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
}
