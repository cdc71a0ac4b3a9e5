package oauth2_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/obstest"
)

// idWorld is authgate with the OAuth2 module, device identities, an
// initialised CA and the mTLS listener, logging at debug level into log.
type idWorld struct {
	env       *agtest.Env
	authority *ca.Authority
	log       *agtest.SyncBuffer
	mtlsURL   string
	serverCA  string // PEM file of the mTLS listener's certificate
	dir       string
	token     string // a non-admin caller's access token
	ids       *device.Identities
	probe     *obstest.Probe
}

func newIDWorld(t *testing.T) *idWorld { t.Helper(); return newIDWorldOn(t, agtest.Options{}) }

// newIDWorldOn is newIDWorld on the store (and clock) base selects.
func newIDWorldOn(t *testing.T, base agtest.Options) *idWorld {
	t.Helper()
	w := &idWorld{log: &agtest.SyncBuffer{}, dir: t.TempDir()}
	logger := slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var ids *device.Identities
	var mod *oauth2.Module
	cfg := device.DefaultConfig()
	cfg.MTLSListen = "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey = writeServerCert(t, w.dir)
	w.serverCA = cfg.TLSCert
	base.Log = logger
	w.env = agtest.Start(t, base, func(svc core.Services) []httpapi.Module {
		w.probe = obstest.New(svc.Clock)
		svc = w.probe.Observe(svc)
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{Links: []oauth2.Link{oauth2.IdentitiesLink}})
		if err != nil {
			t.Fatal(err)
		}
		w.authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(svc))
		mod = o
		if ids, err = device.New(svc, w.authority, cfg, device.Options{}); err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{o, ids}
	})
	ctx := context.Background()
	if _, err := w.authority.Init(ctx, ca.InitOptions{Algorithm: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	lim := httpapi.Limits{MaxConnsPerAddr: 256, MaxInFlightPerAddr: 64, BodyReadTimeout: time.Minute}
	srv, err := ids.MTLSServer(ctx, httpapi.Options{Log: logger, Ready: w.env.Svc.Store, Limits: lim}, mod, mod.TLSClientAuth(ids.Schemes()[0]))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Limits.MaxConnsPerAddr != lim.MaxConnsPerAddr || srv.Limits.BodyReadTimeout != lim.BodyReadTimeout {
		t.Fatalf("the mTLS listener does not apply the per-address limits: %+v", srv.Limits)
	}
	w.mtlsURL = "https://" + agtest.Serve(t, ctx, srv).String()
	w.ids = ids

	admin, _ := idPassword(t, w.env.URL, w.env.Admin.Key, w.env.Admin.Secret)
	var key struct{ Key, Secret string }
	if st := idJSON(t, "POST", w.env.URL+"/accesskeys", admin, `{"Name":"Acme Devices"}`, &key); st != http.StatusCreated {
		t.Fatalf("create org: %d", st)
	}
	w.token, _ = idPassword(t, w.env.URL, key.Key, key.Secret)
	return w
}

// writeServerCert makes the mTLS listener's self-signed certificate for 127.0.0.1.
func writeServerCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mtls.authgate.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600)
	return certFile, keyFile
}

func idPassword(t *testing.T, base, key, secret string) (string, int) {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	return tr.AccessToken, resp.StatusCode
}

// idJSON sends a device-server request and decodes the answer into out.
func idJSON(t *testing.T, method, u, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

type issuedCert struct {
	SerialNumber, Identity, Certificate, PrivateKey, Fingerprint string
}

// mtlsClient is Go's crypto/tls client presenting the device certificate.
func (w *idWorld) mtlsClient(t *testing.T, c issuedCert) *http.Client {
	t.Helper()
	pair, err := tls.X509KeyPair([]byte(c.Certificate), []byte(c.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	b, _ := os.ReadFile(w.serverCA)
	roots.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{pair}}}}
}

func getJSON(t *testing.T, c *http.Client, u string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// curl runs the real curl with the device's certificate and key files.
func (w *idWorld) curl(t *testing.T, c issuedCert, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("curl is required in the full test run")
		}
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "device.pem"), filepath.Join(dir, "device.key")
	os.WriteFile(cert, []byte(c.Certificate), 0o600)
	os.WriteFile(key, []byte(c.PrivateKey), 0o600)
	full := append([]string{"-sS", "--max-time", "10", "--cacert", w.serverCA, "--cert", cert, "--key", key, "-w", "\n%{http_code}"}, args...)
	out, err := exec.Command("curl", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndexByte(s, '\n')
	code, _ := strconv.Atoi(s[i+1:])
	return code, s[:max(i, 0)]
}

// TestDeviceCertificateMTLS: a certificate issued by POST
// /identities/certificates authenticates its device over mutual TLS with
// Go's crypto/tls client and with curl, gets an access token with
// tls_client_auth, and is refused on both after DELETE revoked it.
func TestDeviceCertificateMTLS(t *testing.T) {
	w := newIDWorld(t)
	var c issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, `{"Name":"sensor-1"}`, &c); st != http.StatusCreated {
		t.Fatalf("issue: %d", st)
	}
	if c.Identity != "sensor-1" || !strings.Contains(c.Certificate, "BEGIN CERTIFICATE") || !strings.Contains(c.PrivateKey, "BEGIN PRIVATE KEY") {
		t.Fatalf("issued %+v", c)
	}
	block, _ := pem.Decode([]byte(c.Certificate))
	cert, _ := x509.ParseCertificate(block.Bytes)
	// The subject is authgate's: the device principal's id, OU device, the organisation's id.
	p, err := w.env.Svc.Store.GetPrincipal(context.Background(), cert.Subject.CommonName)
	if err != nil || p.Name != "sensor-1" || cert.Subject.String() != "CN="+p.ID+",OU=device,O="+p.OrgID || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("certificate subject %v eku %v (principal %+v %v)", cert.Subject, cert.ExtKeyUsage, p, err)
	}

	gc := w.mtlsClient(t, c)
	st, out := getJSON(t, gc, w.mtlsURL+"/identities/current")
	if st != http.StatusOK || out["Identity"] != "sensor-1" || out["SerialNumber"] != c.SerialNumber {
		t.Fatalf("Go mTLS: %d %v", st, out)
	}
	code, body := w.curl(t, c, w.mtlsURL+"/identities/current")
	if code != http.StatusOK || !strings.Contains(body, `"Identity":"sensor-1"`) {
		t.Fatalf("curl mTLS: %d %s", code, body)
	}

	// RFC 8705 tls_client_auth: client_credentials with the certificate as client authentication.
	resp, err := gc.PostForm(w.mtlsURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"sensor-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" || tr.TokenType != "Bearer" {
		t.Fatalf("tls_client_auth: %d %+v", resp.StatusCode, tr)
	}
	tok, err := w.env.Svc.Tokens.Lookup(context.Background(), core.TokenAccess, tr.AccessToken)
	if err != nil || tok.CertThumbprint != core.CertThumbprint(cert.Raw) || tok.PrincipalKind != core.PrincipalDevice {
		t.Fatalf("device token %+v %v", tok, err)
	}
	code, body = w.curl(t, c, "-d", "grant_type=client_credentials", w.mtlsURL+"/oauth/token")
	if code != http.StatusOK || !strings.Contains(body, `"access_token"`) {
		t.Fatalf("curl tls_client_auth: %d %s", code, body)
	}
	// The device's token is bound to its certificate: it works on the mTLS
	// listener with the certificate, not on the main listener without it.
	if st := idJSON(t, "GET", w.env.URL+"/", tr.AccessToken, "", nil); st != http.StatusUnauthorized {
		t.Fatalf("entry point with the bound device token and no certificate: %d", st)
	}
	req, _ := http.NewRequest("GET", w.mtlsURL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	if resp, err := gc.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("entry point with the bound device token and its certificate: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The list shows it; DELETE revokes it in the CA.
	var list struct {
		PageInfo struct{ TotalCount int }
		Items    []issuedCert
	}
	if st := idJSON(t, "GET", w.env.URL+"/identities/certificates", w.token, "", &list); st != http.StatusOK || list.PageInfo.TotalCount != 1 || list.Items[0].SerialNumber != c.SerialNumber || list.Items[0].PrivateKey != "" {
		t.Fatalf("list: %d %+v", st, list)
	}
	if st := idJSON(t, "DELETE", w.env.URL+"/identities/certificates/"+c.SerialNumber, w.token, "", nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	rec, _, err := w.authority.Get(context.Background(), c.SerialNumber)
	if err != nil || rec.RevokedAt == nil {
		t.Fatalf("CA record after delete: %+v %v", rec, err)
	}
	gc.CloseIdleConnections()
	if st, out := getJSON(t, gc, w.mtlsURL+"/identities/current"); st != http.StatusUnauthorized {
		t.Fatalf("Go mTLS after revocation: %d %v", st, out)
	}
	if code, body := w.curl(t, c, w.mtlsURL+"/identities/current"); code != http.StatusUnauthorized {
		t.Fatalf("curl after revocation: %d %s", code, body)
	}
	if _, err := w.env.Svc.Tokens.Lookup(context.Background(), core.TokenAccess, tr.AccessToken); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("device token after delete: %v", err)
	}
}

// TestDeviceCSRRevokedInCA: a device CSR is signed under the device
// profile; revoking the certificate with the CA alone (authgate ca revoke)
// is enough for the mTLS listener to refuse it.
func TestDeviceCSRRevokedInCA(t *testing.T) {
	w := newIDWorld(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Acme"}, CommonName: "meter-7"}}, key)
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	body, _ := json.Marshal(map[string]string{"CertificateRequest": string(csr)})
	var c issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, string(body), &c); st != http.StatusCreated || c.Identity != "meter-7" || c.PrivateKey != "" {
		t.Fatalf("sign CSR: %d %+v", st, c)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	c.PrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}))
	gc := w.mtlsClient(t, c)
	if st, out := getJSON(t, gc, w.mtlsURL+"/identities/current"); st != http.StatusOK || out["Identity"] != "meter-7" {
		t.Fatalf("before: %d %v", st, out)
	}
	if _, err := w.authority.Revoke(context.Background(), ca.RevokeRequest{Serial: c.SerialNumber, Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	gc.CloseIdleConnections()
	if st, out := getJSON(t, gc, w.mtlsURL+"/identities/current"); st != http.StatusUnauthorized || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("after CA revocation: %d %v", st, out)
	}
	// An M2M partner certificate of the same CA (the TA issuing CA, a
	// sibling of the device CA) has no path at the device listener.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pder, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{Country: []string{"DE"}, Province: []string{"NRW"},
		Locality: []string{"Bonn"}, Organization: []string{"Acme"}, OrganizationalUnit: []string{"M2M_TA"}, CommonName: "ta.acme.example"}}, rk)
	piss, err := w.authority.Sign(context.Background(), ca.SignRequest{CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: pder}), Profile: "signing", Environment: ca.EnvTA})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(rk)
	partner := issuedCert{Certificate: string(piss.PEM()), PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))}
	if resp, err := w.mtlsClient(t, partner).Get(w.mtlsURL + "/identities/current"); err == nil {
		resp.Body.Close()
		t.Fatalf("M2M partner certificate at the device listener: %d", resp.StatusCode)
	}
	// A certificate from another CA does not even authenticate.
	w2 := newIDWorld(t)
	var other issuedCert
	if st := idJSON(t, "POST", w2.env.URL+"/identities/certificates", w2.token, "", &other); st != http.StatusCreated {
		t.Fatal(st)
	}
	resp, err := w.mtlsClient(t, other).Get(w.mtlsURL + "/identities/current")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("foreign certificate: %d", resp.StatusCode)
	}
}

// TestPSKNeverListedOrLogged: the PSK is in the creation response only,
// never in a list, a single get, the audit log or the server log.
func TestPSKNeverListedOrLogged(t *testing.T) {
	w := newIDWorld(t)
	var created struct{ Identity, Secret string }
	req, _ := http.NewRequest("POST", w.env.URL+"/identities/psk", nil)
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Accept", "application/vnd.imgtec.pskidentity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/vnd.imgtec.pskidentity+json" || len(created.Secret) != 64 || created.Identity == "" {
		t.Fatalf("create: %d %s %+v", resp.StatusCode, resp.Header.Get("Content-Type"), created)
	}
	// Sealed, not hashed: a DTLS server can recompute with it.
	cred, err := w.env.Svc.Credentials.Find(context.Background(), core.CredPSK, created.Identity)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := w.env.Svc.Credentials.Open(cred)
	if err != nil || string(plain) != created.Secret || bytes.Contains(cred.Sealed, []byte(created.Secret)) {
		t.Fatalf("sealed PSK: %v", err)
	}
	var raw json.RawMessage
	for _, u := range []string{"/identities/psk", "/identities/psk/" + created.Identity, "/identities", "/"} {
		if st := idJSON(t, "GET", w.env.URL+u, w.token, "", &raw); st != http.StatusOK {
			t.Fatalf("GET %s: %d", u, st)
		}
		if !strings.Contains(u, "psk") {
			continue
		}
		if bytes.Contains(raw, []byte(created.Secret)) || !bytes.Contains(raw, []byte(created.Identity)) {
			t.Fatalf("GET %s: %s", u, raw)
		}
	}
	if st := idJSON(t, "DELETE", w.env.URL+"/identities/psk/"+created.Identity, w.token, "", nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if _, err := w.env.Svc.Credentials.Find(context.Background(), core.CredPSK, created.Identity); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("after delete: %v", err)
	}
	events, err := w.env.Svc.Audit.List(context.Background(), core.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sawCreate := false
	for _, e := range events {
		line, _ := json.Marshal(e)
		if bytes.Contains(line, []byte(created.Secret)) {
			t.Fatalf("PSK in audit event %s", line)
		}
		sawCreate = sawCreate || strings.Contains(e.Subject, created.Identity)
	}
	logs := w.log.String()
	if !sawCreate || !strings.Contains(logs, "/identities/psk") {
		t.Fatalf("audit or access log missing (audit %v)\n%s", sawCreate, logs)
	}
	if strings.Contains(logs, created.Secret) {
		t.Fatal("PSK in the server log")
	}
}
