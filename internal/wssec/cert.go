package wssec

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"time"

	"github.com/beevik/etree"
)

// certificate decodes the BinarySecurityToken and applies the certificate
// rules: X509v3 Base64Binary token, RSA >= MinRSABits, in date, end-entity,
// digitalSignature + clientAuth, and pinned or chaining to a configured CA.
func (v *Verifier) certificate(e *envelope, tok *etree.Element, now time.Time) (*x509.Certificate, bool, error) {
	if tok.SelectAttrValue("ValueType", "") != ValueX509v3 {
		return nil, false, fail(CodeUnsupportedSecurityToken, "BinarySecurityToken is not X509v3")
	}
	if enc := tok.SelectAttrValue("EncodingType", EncBase64); enc != EncBase64 {
		return nil, false, fail(CodeUnsupportedSecurityToken, "BinarySecurityToken is not Base64Binary")
	}
	der, err := base64Content(tok)
	if err != nil {
		return nil, false, fail(CodeInvalidSecurityToken, "BinarySecurityToken is not base64")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fail(CodeInvalidSecurityToken, "BinarySecurityToken is not an X.509 certificate")
	}
	if err := v.CheckCertificate(cert, now); err != nil {
		return nil, false, err
	}
	fp := sha256.Sum256(cert.Raw)
	for _, p := range v.pinned {
		if subtle.ConstantTimeCompare(fp[:], p[:]) == 1 {
			return cert, true, nil
		}
	}
	if v.p.Roots != nil {
		_, err := cert.Verify(x509.VerifyOptions{
			Roots: v.p.Roots, Intermediates: v.p.Intermediates, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			return cert, false, nil
		}
	}
	return nil, false, fail(CodeFailedAuthentication, "certificate is neither pinned nor issued by a trusted CA")
}

// CheckCertificate applies the rules every signing certificate must meet,
// independent of how it is trusted.
func (v *Verifier) CheckCertificate(cert *x509.Certificate, now time.Time) error {
	if cert.Version != 3 {
		return fail(CodeInvalidSecurityToken, "certificate is not X.509 v3")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fail(CodeInvalidSecurityToken, "certificate key is not RSA")
	}
	if pub.N.BitLen() < v.p.MinRSABits {
		return fail(CodeInvalidSecurityToken, "certificate RSA key is shorter than the minimum")
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fail(CodeInvalidSecurityToken, "certificate is not valid at this time")
	}
	if cert.IsCA {
		return fail(CodeInvalidSecurityToken, "certificate is a CA certificate")
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fail(CodeInvalidSecurityToken, "certificate lacks the digitalSignature key usage")
	}
	client := false
	for _, u := range cert.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth {
			client = true
		}
	}
	if !client {
		return fail(CodeInvalidSecurityToken, "certificate lacks the clientAuth extended key usage")
	}
	return nil
}
