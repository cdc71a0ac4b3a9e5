package pop_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/sdk/pop"
)

// independentVerify checks a PoP token the way a third party would, with
// nothing from authgate: split the JWS, verify RS256 with crypto/rsa,
// read the claims and recompute edts from the request as it will be sent.
func independentVerify(t *testing.T, tok string, pub *rsa.PublicKey, req *http.Request, body string, now time.Time) map[string]any {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not unpadded base64url: %q", s)
		}
		return b
	}
	var hdr map[string]any
	if err := json.Unmarshal(dec(p[0]), &hdr); err != nil || hdr["alg"] != "RS256" || hdr["typ"] != "JWT" {
		t.Fatalf("header %s", dec(p[0]))
	}
	sum := sha256.Sum256([]byte(p[0] + "." + p[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], dec(p[2])); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(dec(p[1]), &c); err != nil {
		t.Fatal(err)
	}
	iat, exp := int64(c["iat"].(float64)), int64(c["exp"].(float64))
	if iat != now.Unix() || exp != iat+120 || c["v"] != "1" || c["jti"] == "" {
		t.Fatalf("claims %v", c)
	}
	var concat strings.Builder
	for _, name := range strings.Split(c["ehts"].(string), ";") {
		switch name {
		case "uri":
			concat.WriteString(req.URL.Path)
			if req.URL.RawQuery != "" {
				concat.WriteString("?" + req.URL.RawQuery)
			}
		case "http-method":
			concat.WriteString(req.Method)
		case "body":
			concat.WriteString(body)
		default:
			concat.WriteString(req.Header.Get(name))
		}
	}
	h := sha256.Sum256([]byte(concat.String()))
	if c["edts"] != base64.RawURLEncoding.EncodeToString(h[:]) {
		t.Fatalf("edts %v does not hash %q", c["edts"], concat.String())
	}
	return c
}

func TestBuilderIndependentlyVerified(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_760_000_000, 0)
	b := &pop.Builder{Key: key, Now: func() time.Time { return now }}
	tests := []struct {
		name, method, url, body string
		headers                 [][2]string
		wantEHTS                string
	}{
		{"GET resource", "GET", "https://api.example/iot-connectivity/v1/devices/89012601234567890128", "",
			[][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer abc"}}, "Content-Type;Authorization;uri;http-method;body"},
		{"POST with query and UTF-8 body", "POST", "https://api.example/commerce/v1/orders?x=1&y=%20z", `{"orderId": 100, "product": "Téléphone ☎"}`,
			[][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS"}}, "Content-Type;Authorization;uri;http-method;body"},
		{"no headers set", "DELETE", "https://api.example/a/b", "", nil, "uri;http-method;body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.body == "" {
				req, _ = http.NewRequest(tc.method, tc.url, nil)
			}
			for _, h := range tc.headers {
				req.Header.Set(h[0], h[1])
			}
			if err := b.Sign(req, "Content-Type", "Authorization"); err != nil {
				t.Fatal(err)
			}
			c := independentVerify(t, req.Header.Get(pop.Header), &key.PublicKey, req, tc.body, now)
			if c["ehts"] != tc.wantEHTS {
				t.Fatalf("ehts %v, want %s", c["ehts"], tc.wantEHTS)
			}
		})
	}
	// Tokens differ by jti even at the same second.
	t1, _ := b.Build([]pop.Part{{Name: "uri", Value: "/"}})
	t2, _ := b.Build([]pop.Part{{Name: "uri", Value: "/"}})
	if t1 == t2 {
		t.Fatal("two tokens share a jti")
	}
}

func TestParsePrivateKey(t *testing.T) {
	if _, err := pop.ParsePrivateKey([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")); err == nil {
		t.Fatal("EC key accepted")
	}
	if _, err := pop.ParsePrivateKey([]byte("not pem")); err == nil {
		t.Fatal("garbage accepted")
	}
}
