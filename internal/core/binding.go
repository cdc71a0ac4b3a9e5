package core

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
)

// CertThumbprint is RFC 8705's x5t#S256 of a DER certificate: base64url
// (no padding) of its SHA-256.
func CertThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCertBinding refuses a certificate-bound token (RFC 8705 section 3)
// on a connection that does not present its certificate: no TLS, no
// client certificate, or another one. Unbound tokens pass. The TLS
// handshake proved possession of the presented certificate's key, so a
// matching thumbprint proves the caller holds the key the token was
// issued to. Every route accepting access tokens calls it after Lookup.
func CheckCertBinding(t Token, cs *tls.ConnectionState) error {
	if t.CertThumbprint == "" {
		return nil
	}
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return E(KindUnauthenticated, "the token is bound to a client certificate (RFC 8705): present it over mutual TLS")
	}
	if !ConstantTimeEqual([]byte(CertThumbprint(cs.PeerCertificates[0].Raw)), []byte(t.CertThumbprint)) {
		return E(KindUnauthenticated, "the token is bound to another client certificate (RFC 8705)")
	}
	return nil
}
