package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// accessKey creates a device-server access key in a new organisation (as
// the bootstrap admin, over the API) and returns its key and secret.
func (n *node) accessKey(t *testing.T, name string) (key, secret string) {
	t.Helper()
	admin := n.token(t, n.Key, n.Secret)
	req, _ := http.NewRequest("POST", n.URL+"/accesskeys", strings.NewReader(`{"Name":"`+name+`"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	status, _, body := send(t, req)
	var k struct{ Key, Secret string }
	if err := json.Unmarshal([]byte(body), &k); status != 201 || err != nil || k.Key == "" {
		t.Fatalf("POST /accesskeys: %d %s", status, body)
	}
	return k.Key, k.Secret
}

// revoke revokes token at the node as the client it was issued to (RFC 7009).
func (n *node) revoke(t *testing.T, key, secret, token string) {
	t.Helper()
	req, _ := http.NewRequest("POST", n.URL+"/oauth/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, _, body := send(t, req); status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
}

// taapClient registers a TAAP client with a fresh RSA key (authgate taap
// client create) and returns it with the key as PKCS#8 PEM.
type taapClient struct {
	ID, Secret string
	KeyPEM     []byte
}

func (n *node) taapClient(t *testing.T, name string) taapClient {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pubFile := filepath.Join(t.TempDir(), "client.pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	var info struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	n.runJSON(t, &info, "taap", "client", "create", "--name", name, "--public-key", pubFile)
	return taapClient{ID: info.ClientID, Secret: info.ClientSecret, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
}

// basic is the client's Authorization for the TAAP token endpoint.
func (c taapClient) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ID+":"+c.Secret))
}

// npmPoP builds one PoP token per request with T-Mobile's own builder (npm
// tmo-poptoken-builder, installed by scripts/deps.sh under the TAAP
// adapter's testdata): each request is its [name, value] parts in ehts order.
func npmPoP(t *testing.T, keyPEM []byte, requests ...[][2]string) []string {
	t.Helper()
	dir, _ := filepath.Abs("../../protocol/taap/testdata/npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules/tmo-poptoken-builder/poptoken-builder-node.js")); err != nil {
		if pgtest.Required() {
			t.Fatal("tmo-poptoken-builder is not installed (scripts/deps.sh install_taap_node_deps) but this is a full run")
		}
		t.Skip("tmo-poptoken-builder not installed: npm ci --prefix internal/protocol/taap/testdata/npm")
	}
	in, _ := json.Marshal(map[string]any{"key": string(keyPEM), "requests": requests})
	cmd := exec.Command("node", "build.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node build.js: %v %s", err, out)
	}
	var toks []string
	if err := json.Unmarshal(out, &toks); err != nil || len(toks) != len(requests) {
		t.Fatalf("builder output %q: %v", out, err)
	}
	return toks
}

// taapToken is an access token from the TAAP token endpoint, asked as
// clients ask: Basic client credentials plus a PoP (npm builder) over
// Authorization, uri and http-method, empty body.
func (n *node) taapToken(t *testing.T, c taapClient) string {
	t.Helper()
	const uri = "/oauth2/v6/tokens"
	pop := npmPoP(t, c.KeyPEM, [][2]string{{"Authorization", c.basic()}, {"uri", uri}, {"http-method", "POST"}})[0]
	req, _ := http.NewRequest("POST", n.URL+uri, nil)
	req.Header.Set("Authorization", c.basic())
	req.Header.Set("X-Authorization", pop)
	status, _, body := send(t, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); status != 200 || err != nil || tok.AccessToken == "" {
		t.Fatalf("TAAP token: %d %s", status, body)
	}
	return tok.AccessToken
}
