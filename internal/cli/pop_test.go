package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
)

// TestPopCommand: `authgate pop` output verifies with the TAAP verifier
// against the request it was built for, body read from a file.
func TestPopCommand(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	bodyFile := filepath.Join(dir, "order.json")
	body := `{"orderId": 100, "product": "Mobile Phone"}`
	_ = os.WriteFile(bodyFile, []byte(body), 0o600)

	var out, errb bytes.Buffer
	code := Main([]string{"pop", "--key", keyFile, "--method", "POST", "--uri", "https://api.example/commerce/v1/orders?x=1",
		"--header", "content-type: application/json", "--header", "Authorization: Bearer abc", "--body", "@" + bodyFile}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	tok := strings.TrimSpace(out.String())
	v := taap.NewVerifier(taap.VerifierConfig{Algorithms: []string{"RS256"}, Skew: 10 * time.Second, MaxLifetime: 120 * time.Second}, nil, core.SystemClock{})
	s := taap.Signed{Method: "POST", URI: "/commerce/v1/orders?x=1", Body: []byte(body),
		Header: map[string][]string{"Content-Type": {"application/json"}, "Authorization": {"Bearer abc"}}}
	res := v.Explain(taap.Input{Token: tok, Request: s, Keys: []*rsa.PublicKey{&key.PublicKey}, Required: taap.Required([]string{"uri", "http-method", "body"}, s)})
	for _, r := range res {
		if !r.OK {
			b, _ := json.Marshal(res)
			t.Fatalf("check failed: %s", b)
		}
	}
	if len(res) < 10 {
		t.Fatalf("only %d checks ran", len(res))
	}
}

// TestTAAPClientCommands registers a client and a SIM on the database.
func TestTAAPClientCommands(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "pub.pem")
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	_ = os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	var info taap.ClientInfo
	if err := json.Unmarshal(runCLI(t, "taap", "client", "create", "--name", "dev kit", "--public-key", pubFile, "--data-dir", dir), &info); err != nil {
		t.Fatal(err)
	}
	if info.ClientID == "" || info.ClientSecret == "" || len(info.Thumbprints) != 1 {
		t.Fatalf("client: %+v", info)
	}
	iccid := "8901260123456789012"
	iccid += string(taap.LuhnDigit(iccid))
	var sim taap.SIM
	if err := json.Unmarshal(runCLI(t, "taap", "sim", "add", "--org", info.OrgID, "--iccid", iccid, "--data-dir", dir), &sim); err != nil || sim.ICCID != iccid {
		t.Fatalf("sim: %+v %v", sim, err)
	}
}
