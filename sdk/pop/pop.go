// Package pop builds T-Mobile TAAP proof-of-possession (PoP) tokens and
// calls TAAP APIs with them. A PoP token is a JWS (RS256) whose claims
// name the signed request parts (ehts) and carry the SHA-256 of their
// values concatenated (edts); it travels in the X-Authorization header.
// Tokens are the same as those of T-Mobile's own builders: header
// {"alg":"RS256","typ":"JWT"}, exp = iat + 120 s, v = "1", a random jti.
package pop

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Pseudo-header names: every other part name is an HTTP header.
const (
	URI    = "uri"
	Method = "http-method"
	Body   = "body"
)

// Header is the HTTP header a PoP token travels in.
const Header = "X-Authorization"

// DefaultLifetime is exp - iat of built tokens, as T-Mobile's builders use.
const DefaultLifetime = 120 * time.Second

// Part is one signed request part: a header name or a pseudo-header, and
// its value exactly as sent.
type Part struct {
	Name  string
	Value string
}

// Builder signs PoP tokens with a client's RSA private key.
type Builder struct {
	Key      *rsa.PrivateKey
	Lifetime time.Duration    // default DefaultLifetime
	Now      func() time.Time // default time.Now
}

// Build signs a token over parts, in their order.
func (b *Builder) Build(parts []Part) (string, error) {
	if b.Key == nil {
		return "", errors.New("pop: no private key")
	}
	if len(parts) == 0 {
		return "", errors.New("pop: nothing to sign")
	}
	names := make([]string, len(parts))
	h := sha256.New()
	for i, p := range parts {
		if p.Name == "" || strings.ContainsAny(p.Name, "; ") {
			return "", fmt.Errorf("pop: part name %q is not a header name", p.Name)
		}
		names[i] = p.Name
		io.WriteString(h, p.Value)
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	life := b.Lifetime
	if life <= 0 {
		life = DefaultLifetime
	}
	iat := now().Unix()
	claims, err := json.Marshal(struct {
		IAT  int64  `json:"iat"`
		EXP  int64  `json:"exp"`
		EHTS string `json:"ehts"`
		EDTS string `json:"edts"`
		JTI  string `json:"jti"`
		V    string `json:"v"`
	}{iat, iat + int64(life/time.Second), strings.Join(names, ";"), base64.RawURLEncoding.EncodeToString(h.Sum(nil)), uuid.NewString(), "1"})
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, b.Key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// RequestParts returns the parts of req in the order T-Mobile's builders
// use: the named headers (values as set on req), then uri (path and query
// as sent), http-method and body.
func RequestParts(req *http.Request, body []byte, headers ...string) ([]Part, error) {
	parts := make([]Part, 0, len(headers)+3)
	for _, name := range headers {
		v := req.Header.Get(name)
		if v == "" {
			return nil, fmt.Errorf("pop: header %s is not set on the request", name)
		}
		parts = append(parts, Part{name, v})
	}
	return append(parts, Part{URI, req.URL.RequestURI()}, Part{Method, req.Method}, Part{Body, string(body)}), nil
}

// Sign adds X-Authorization to req, signing the given headers (those set
// on req among them; e.g. "Content-Type", "Authorization"), uri,
// http-method and body. The body is read through req.GetBody, which
// http.NewRequest sets for in-memory bodies.
func (b *Builder) Sign(req *http.Request, headers ...string) error {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return errors.New("pop: request body cannot be re-read (use http.NewRequest with a bytes or strings reader)")
		}
		rc, err := req.GetBody()
		if err != nil {
			return err
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	var present []string
	for _, h := range headers {
		if req.Header.Get(h) != "" {
			present = append(present, h)
		}
	}
	parts, err := RequestParts(req, body, present...)
	if err != nil {
		return err
	}
	tok, err := b.Build(parts)
	if err != nil {
		return err
	}
	req.Header.Set(Header, tok)
	return nil
}

// ParsePrivateKey reads an RSA private key from PEM: PKCS#8 "PRIVATE KEY"
// or PKCS#1 "RSA PRIVATE KEY".
func ParsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(bytes.TrimSpace(b))
	if blk == nil {
		return nil, errors.New("pop: private key is not PEM")
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("pop: private key is %T, PoP tokens need RSA", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("pop: PEM block %q is not an RSA private key", blk.Type)
}

// PublicKeyPEM returns the SPKI PEM of key's public half, the form a
// client registers.
func PublicKeyPEM(key *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(err) // cannot fail for an RSA key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
