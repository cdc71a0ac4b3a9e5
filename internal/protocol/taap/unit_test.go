package taap_test

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authgate/authgate/internal/protocol/taap"
)

func TestParsePublicKey(t *testing.T) {
	k := &testKeys()[0].PublicKey
	spki, _ := x509.MarshalPKIXPublicKey(k)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: k})
	privJWK, _ := json.Marshal(jose.JSONWebKey{Key: testKeys()[0]})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"SPKI PEM", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})), true},
		{"PKCS#1 PEM", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)})), true},
		{"JWK", string(jwk), true},
		{"private JWK", string(privJWK), false},
		{"1024-bit", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER})), false},
		{"certificate block", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", false},
		{"garbage", "hello", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := taap.ParsePublicKey([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && got.N.Cmp(k.N) != 0 {
				t.Fatal("different key")
			}
		})
	}
}

func TestValidICCID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{testICCID, true},
		{"8901260123456789010", false}, // wrong check digit (19 digits)
		{"89012601234567890", false},   // too short
		{"8801260123456789012" + "3", false},
		{"89012601234567890a2", false},
		{"890126012345678901234", false}, // 21 digits
	} {
		if err := taap.ValidICCID(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidICCID(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	// A known-good ICCID from the wild (19 digits + check digit).
	if err := taap.ValidICCID("89148000000000000003"[:19] + string(taap.LuhnDigit("8914800000000000000"))); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*taap.Config)) taap.Config { c := taap.DefaultConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  taap.Config
		want string
	}{
		{"defaults", taap.DefaultConfig(), ""},
		{"HMAC", mod(func(c *taap.Config) { c.Algorithms = []string{"HS256"} }), `"HS256" is not allowed`},
		{"none", mod(func(c *taap.Config) { c.Algorithms = []string{"none"} }), `"none" is not allowed`},
		{"empty algs", mod(func(c *taap.Config) { c.Algorithms = nil }), "at least one"},
		{"PS256 ok", mod(func(c *taap.Config) { c.Algorithms = []string{"RS256", "PS256"} }), ""},
		{"resource without body", mod(func(c *taap.Config) { c.ResourceParts = []string{"uri", "http-method"} }), `resource_parts must include "body"`},
		{"token endpoint without uri", mod(func(c *taap.Config) { c.TokenEndpointParts = []string{"http-method"} }), `token_endpoint_parts must include "uri"`},
		{"lifetime", mod(func(c *taap.Config) { c.MaxLifetime = time.Hour }), "max_lifetime"},
		{"id alg", mod(func(c *taap.Config) { c.IDTokenAlg = "HS256" }), "id_token_alg"},
		{"rotation", mod(func(c *taap.Config) { c.KeyRotation = time.Second }), "key_rotation"},
		{"resource scope empty", mod(func(c *taap.Config) { c.ResourceScope = "" }), "resource_scope"},
		{"resource scope two tokens", mod(func(c *taap.Config) { c.ResourceScope = "a b" }), "resource_scope"},
		{"resource scope with a quote", mod(func(c *taap.Config) { c.ResourceScope = `a"b` }), "resource_scope"},
		{"resource scope custom", mod(func(c *taap.Config) { c.ResourceScope = "connectivity:read" }), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFromRequestURI: uri is the request-target as sent, never re-encoded
// from the parsed URL; an absolute-form target signs as path and query.
func TestFromRequestURI(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"GET /iot-connectivity/v1/devices/89012601234567890128 HTTP/1.1", "/iot-connectivity/v1/devices/89012601234567890128"},
		{"GET /a{b}?q=a%20b&r=%7e HTTP/1.1", "/a{b}?q=a%20b&r=%7e"},
		{"GET /x/%41? HTTP/1.1", "/x/%41?"},
		{"GET http://h.example/p?x=1 HTTP/1.1", "/p?x=1"},
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.line + "\r\nHost: h.example\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if got := taap.FromRequest(r, nil).URI; got != tc.want {
			t.Errorf("%s: uri %q, want %q", tc.line, got, tc.want)
		}
	}
}
