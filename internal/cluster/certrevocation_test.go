package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// idNode is one node serving the OAuth2 module, device identities and the
// devices' mTLS listener on the shared database.
type idNode struct {
	env       *agtest.Env
	authority *ca.Authority
	ids       *device.Identities
	oauth     *oauth2.Module
	mtlsURL   string
}

// startIDNodes starts n nodes on one fresh PostgreSQL database with one
// master key and a manual clock at t0; the CA is initialised through node
// 0 before the mTLS listeners start (they trust the CA's root).
func startIDNodes(t *testing.T, n int, t0 time.Time, cacheAge time.Duration) ([]*idNode, *x509.CertPool) {
	t.Helper()
	dsn, master := pgtest.DSN(t), newMasterKey(t)
	dir := t.TempDir()
	certFile, keyFile, serverRoots := serverCert(t, dir)
	cfg := device.DefaultConfig()
	cfg.MTLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
	var nodes []*idNode
	for range n {
		nd := &idNode{}
		nd.env = agtest.Start(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: t0}, func(svc core.Services) []httpapi.Module {
			oc := oauth2.DefaultConfig()
			oc.TokenCacheMaxAge = cacheAge
			o, err := oauth2.New(svc, oc, oauth2.Options{Links: []oauth2.Link{oauth2.IdentitiesLink}})
			if err != nil {
				t.Fatal(err)
			}
			nd.authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(svc))
			nd.oauth = o
			if nd.ids, err = device.New(svc, nd.authority, cfg, device.Options{}); err != nil {
				t.Fatal(err)
			}
			return []httpapi.Module{o, nd.ids}
		})
		nodes = append(nodes, nd)
	}
	if _, err := nodes[0].authority.Init(context.Background(), ca.InitOptions{Algorithm: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		srv, err := nd.ids.MTLSServer(context.Background(), httpapi.Options{Ready: nd.env.Svc.Store}, nd.oauth, nd.oauth.TLSClientAuth(nd.ids.Schemes()[0]))
		if err != nil {
			t.Fatal(err)
		}
		nd.mtlsURL = "https://" + agtest.Serve(t, context.Background(), srv).String()
	}
	return nodes, serverRoots
}

// serverCert writes the mTLS listeners' certificate for 127.0.0.1.
func serverCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mtls.cluster.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, roots
}

// send makes one request with an optional bearer token and form body.
func send(t *testing.T, c *http.Client, method, u string, h http.Header, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestAttack_RevokedCertTokensRefusedOnNode2: a device's token issued on
// node 0 through tls_client_auth, in use on node 1 (and cached there), is
// refused by node 1 once its certificate is revoked on node 0, by
// `authgate ca revoke` (the CA's Revoke, as the command calls it) or by
// DELETE /identities/certificates/{serial}: introspection on node 1 says
// inactive at once, node 1's bearer check refuses at the latest
// oauth2.token_cache_max_age later (a manual clock shows the bound without
// sleeping), node 0 at once.
func TestAttack_RevokedCertTokensRefusedOnNode2(t *testing.T) {
	const bound = 5 * time.Second
	for _, how := range []string{"ca revoke", "DELETE /identities/certificates"} {
		t.Run(how, func(t *testing.T) {
			t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			nodes, serverRoots := startIDNodes(t, 2, t0, bound)
			plain := &http.Client{Timeout: 10 * time.Second}
			admKey, admSecret := nodes[0].env.Admin.Key, nodes[0].env.Admin.Secret
			grant := func(key, secret string) string {
				st, m := send(t, plain, "POST", nodes[0].env.URL+"/oauth/token", formHeader, passwordForm(key, secret))
				if st != 200 {
					t.Fatalf("password grant: %d %v", st, m)
				}
				return m["access_token"].(string)
			}
			admin := grant(admKey, admSecret)
			jsonBearer := func(tok string) http.Header {
				return http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
			}
			st, org := send(t, plain, "POST", nodes[0].env.URL+"/accesskeys", jsonBearer(admin), `{"Name":"Fleet"}`)
			if st != 201 {
				t.Fatalf("org: %d %v", st, org)
			}
			user := grant(org["Key"].(string), org["Secret"].(string))
			st, issued := send(t, plain, "POST", nodes[0].env.URL+"/identities/certificates", jsonBearer(user), `{"Name":"meter-1"}`)
			if st != 201 {
				t.Fatalf("issue: %d %v", st, issued)
			}
			pair, err := tls.X509KeyPair([]byte(issued["Certificate"].(string)), []byte(issued["PrivateKey"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			dev := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverRoots, Certificates: []tls.Certificate{pair}}}}
			st, tr := send(t, dev, "POST", nodes[0].mtlsURL+"/oauth/token", formHeader, url.Values{"grant_type": {"client_credentials"}}.Encode())
			if st != 200 {
				t.Fatalf("tls_client_auth on node 0: %d %v", st, tr)
			}
			tok := tr["access_token"].(string)
			onNode := func(n int) int {
				st, _ := send(t, dev, "GET", nodes[n].mtlsURL+"/", http.Header{"Authorization": {"Bearer " + tok}}, "")
				return st
			}
			if s := onNode(1); s != 200 {
				t.Fatalf("node 1 before the revocation: %d", s)
			}

			serial := issued["SerialNumber"].(string)
			if how == "ca revoke" {
				if _, err := nodes[0].authority.Revoke(context.Background(), ca.RevokeRequest{Serial: serial, Reason: "keyCompromise", OrgID: core.SystemOrgID, RemoteAddr: "cli"}); err != nil {
					t.Fatal(err)
				}
			} else if st, m := send(t, plain, "DELETE", nodes[0].env.URL+"/identities/certificates/"+serial, jsonBearer(user), ""); st != 204 {
				t.Fatalf("delete: %d %v", st, m)
			}

			// Node 1's store read sees it at once.
			st, in := send(t, plain, "POST", nodes[1].env.URL+"/oauth/introspect", basicHeader(admKey, admSecret), "token="+url.QueryEscape(tok))
			if st != 200 || in["active"] != false {
				t.Fatalf("introspection on node 1 after the revocation: %d %v", st, in)
			}
			if s := onNode(0); s != 401 {
				t.Fatalf("node 0 (the revoking node) after the revocation: %d", s)
			}
			for _, nd := range nodes {
				nd.env.Clock.Advance(bound)
			}
			if s := onNode(1); s != 401 {
				t.Fatalf("node 1 %v after the revocation: %d, want 401", bound, s)
			}
		})
	}
}
