package taap

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

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
		if err := json.Unmarshal(b, &jwk); err != nil {
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
