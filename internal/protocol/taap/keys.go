package taap

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/authgate/authgate/internal/core"
)

// ParsePublicKey reads a client's RSA public key from PEM (SPKI "PUBLIC
// KEY" or PKCS#1 "RSA PUBLIC KEY") or a JWK, the forms T-Mobile's
// validators accept, and refuses keys outside core.CheckRSAKey's sizes.
func ParsePublicKey(b []byte) (*rsa.PublicKey, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 16<<10 {
		return nil, core.E(core.KindInvalidInput, "public key must be 1 to 16384 bytes")
	}
	var key any
	switch {
	case b[0] == '{':
		var jwk jose.JSONWebKey
		nb, err := unpadJWK(b)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(nb, &jwk); err != nil {
			return nil, core.E(core.KindInvalidInput, "public key JWK does not parse: "+err.Error())
		}
		if !jwk.IsPublic() {
			return nil, core.E(core.KindInvalidInput, "the JWK holds a private key; register the public key only")
		}
		key = jwk.Key
	default:
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, core.E(core.KindInvalidInput, "public key is neither PEM nor a JWK")
		}
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		default:
			return nil, core.E(core.KindInvalidInput, fmt.Sprintf("PEM block %q is not a public key (want PUBLIC KEY or RSA PUBLIC KEY)", blk.Type))
		}
		if err != nil {
			return nil, core.E(core.KindInvalidInput, "public key does not parse: "+err.Error())
		}
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, core.E(core.KindInvalidInput, fmt.Sprintf("public key is %T; PoP tokens are RS256, an RSA key is required", key))
	}
	if err := core.CheckRSAKey(rk); err != nil {
		return nil, err
	}
	return rk, nil
}

// unpadJWK rewrites the RSA members n and e of a JWK from padded to
// unpadded base64url. RFC 7518 wants them unpadded and go-jose refuses
// padding, but T-Mobile's key validator accepts both and Java's default
// URL encoder pads, so registrations made with it must work. Padding is
// accepted only where it is exact (strict decoding); other members are
// left as sent.
func unpadJWK(b []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, core.E(core.KindInvalidInput, "public key JWK does not parse: "+err.Error())
	}
	changed := false
	for _, name := range []string{"n", "e"} {
		var v string
		if raw, ok := m[name]; !ok || json.Unmarshal(raw, &v) != nil || !strings.HasSuffix(v, "=") {
			continue
		}
		d, err := base64.URLEncoding.Strict().DecodeString(v)
		if err != nil {
			return nil, core.E(core.KindInvalidInput, "public key JWK member "+name+" is not base64url (padded or unpadded)")
		}
		m[name], _ = json.Marshal(base64.RawURLEncoding.EncodeToString(d))
		changed = true
	}
	if !changed {
		return b, nil
	}
	return json.Marshal(m)
}

// PublicKeyPEM returns the SPKI PEM form stored for a key.
func PublicKeyPEM(k *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic("marshal RSA public key: " + err.Error()) // cannot fail for *rsa.PublicKey
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Thumbprint is the RFC 7638 SHA-256 JWK thumbprint of k, base64url.
func Thumbprint(k *rsa.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: k}).Thumbprint(cryptoSHA256)
	if err != nil {
		return ""
	}
	return b64enc(tp)
}
