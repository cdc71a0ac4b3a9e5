// Package wss is the public face of authgate's WS-Security implementation
// for partner programs: sign SOAP 1.1 requests and responses with an X.509
// certificate (Timestamp, BinarySecurityToken, exclusive c14n, rsa-sha256
// over Body and Timestamp) and verify the platform's signed messages with
// the same wrapping-resistant checks the server applies.
package wss

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/authgate/authgate/internal/wssec"
)

// The signer and verifier are authgate's own; these names make them usable
// from outside the module.
type (
	Signer        = wssec.Signer
	SignerOptions = wssec.SignerOptions
	Verifier      = wssec.Verifier
	Policy        = wssec.Policy
	Verified      = wssec.Verified
	Error         = wssec.Error
	Code          = wssec.Code
)

// DefaultTTL is the Timestamp lifetime the M2M API prescribes.
const DefaultTTL = wssec.DefaultTTL

// NewSigner builds a signer from a key and its certificate.
func NewSigner(key *rsa.PrivateKey, cert *x509.Certificate, opt SignerOptions) (*Signer, error) {
	return wssec.NewSigner(key, cert, opt)
}

// NewVerifier builds a verifier.
func NewVerifier(p Policy) (*Verifier, error) { return wssec.NewVerifier(p) }

// LoadKeyPair reads a PEM certificate and its RSA private key (PKCS#1 or
// PKCS#8, unencrypted).
func LoadKeyPair(certFile, keyFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("wss: signing key must be RSA")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// LoadCertificates reads every CERTIFICATE block of the PEM files.
func LoadCertificates(files ...string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no PEM certificate", f)
		}
	}
	return out, nil
}

// CertPool makes a pool of certs (nil for none).
func CertPool(certs []*x509.Certificate) *x509.CertPool {
	if len(certs) == 0 {
		return nil
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
