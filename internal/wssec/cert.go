package wssec

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/rsapub"

	"github.com/beevik/etree"
)

// certificate finds the signing certificate the KeyInfo names and applies
// the certificate rules. A BinarySecurityToken must be X509v3
// Base64Binary; a key reference resolves to one registered certificate
// (resolveReference), and a certificate the message carries as well (the
// token, an X509Certificate in the X509Data) must be that very
// certificate. Then: RSA >= MinRSABits and within core.CheckRSAKey's
// sizes, in date, end-entity, digitalSignature + clientAuth, and pinned or
// chaining to a configured CA, whichever way it was found.
func (v *Verifier) certificate(ctx context.Context, e *envelope, ki *keyInfo, now time.Time) (*trustedCert, error) {
	if ki.ref == nil {
		der, err := tokenDER(ki.token)
		if err != nil {
			return nil, err
		}
		return v.trust(der, nil, now)
	}
	cert, err := v.resolveReference(ctx, ki.ref, now)
	if err != nil {
		return nil, err
	}
	if ki.carried != nil && !bytes.Equal(ki.carried, cert.Raw) {
		return nil, fail(CodeSecurityTokenUnavailable, "the X509Certificate is not the certificate the "+ki.ref.Form.String()+" names")
	}
	if e.bst != nil {
		der, err := tokenDER(e.bst)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(der, cert.Raw) {
			return nil, fail(CodeSecurityTokenUnavailable, "the BinarySecurityToken is not the certificate the "+ki.ref.Form.String()+" names")
		}
	}
	return v.trust(cert.Raw, cert, now)
}

// tokenDER decodes an X509v3 Base64Binary BinarySecurityToken.
func tokenDER(tok *etree.Element) ([]byte, error) {
	if tok.SelectAttrValue("ValueType", "") != ValueX509v3 {
		return nil, fail(CodeUnsupportedSecurityToken, "BinarySecurityToken is not X509v3")
	}
	if enc := tok.SelectAttrValue("EncodingType", EncBase64); enc != EncBase64 {
		return nil, fail(CodeUnsupportedSecurityToken, "BinarySecurityToken is not Base64Binary")
	}
	der, err := base64Content(tok)
	if err != nil {
		return nil, fail(CodeInvalidSecurityToken, "BinarySecurityToken is not base64")
	}
	return der, nil
}

// trust applies the certificate rules to der (parsed already when cert is
// not nil). A certificate that passed is remembered by its fingerprint
// with the window in which its chain holds, so a partner signing every
// request with the same certificate pays parsing, chain building and the
// CA signature check once; the rules that depend on the time are applied
// every time, and so are the policy's Checkers (revocation), after the
// signature.
func (v *Verifier) trust(der []byte, cert *x509.Certificate, now time.Time) (*trustedCert, error) {
	fp := sha256.Sum256(der)
	if tc, ok := v.certs.get(fp, now); ok {
		if err := v.CheckCertificate(tc.cert, now); err != nil {
			return nil, err
		}
		return tc, nil
	}
	var err error
	if cert == nil {
		if cert, err = x509.ParseCertificate(der); err != nil {
			return nil, fail(CodeInvalidSecurityToken, "BinarySecurityToken is not an X.509 certificate")
		}
	}
	if err := v.CheckCertificate(cert, now); err != nil {
		return nil, err
	}
	key, err := rsapub.New(cert.PublicKey.(*rsa.PublicKey)) // RSA: checked above
	if err != nil {
		return nil, fail(CodeInvalidSecurityToken, "certificate RSA key is not usable")
	}
	for _, p := range v.pinned {
		if subtle.ConstantTimeCompare(fp[:], p[:]) == 1 {
			tc := &trustedCert{cert: cert, key: key, pinned: true, from: cert.NotBefore, until: cert.NotAfter}
			v.certs.put(fp, tc)
			return tc, nil
		}
	}
	if v.p.Roots != nil {
		chains, err := cert.Verify(x509.VerifyOptions{
			Roots: v.p.Roots, Intermediates: v.p.Intermediates, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			tc := &trustedCert{cert: cert, key: key, from: cert.NotBefore, until: cert.NotAfter}
			if len(chains[0]) > 1 {
				tc.issuer = chains[0][1]
			}
			for _, c := range chains[0] { // the chain holds while every link is in date
				tc.from, tc.until = latest(tc.from, c.NotBefore), earliest(tc.until, c.NotAfter)
			}
			v.certs.put(fp, tc)
			return tc, nil
		}
	}
	return nil, fail(CodeFailedAuthentication, "certificate is neither pinned nor issued by a trusted CA")
}

// trustedCert is a certificate that passed certificate(): pinned, or with
// a verified chain whose every link is in date between from and until.
type trustedCert struct {
	cert        *x509.Certificate
	issuer      *x509.Certificate // the CA that signed cert; nil when pinned
	key         *rsapub.Key
	pinned      bool
	from, until time.Time
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// certCache remembers trusted certificates by fingerprint; bounded, it
// starts over when full. Roots and pins are fixed per Verifier, so an
// entry stays right for as long as its time window holds.
type certCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*trustedCert
}

const maxCachedCerts = 1024

func (c *certCache) get(fp [sha256.Size]byte, now time.Time) (*trustedCert, bool) {
	c.mu.Lock()
	tc, ok := c.m[fp]
	c.mu.Unlock()
	if !ok || now.Before(tc.from) || now.After(tc.until) {
		return nil, false
	}
	return tc, true
}

func (c *certCache) put(fp [sha256.Size]byte, tc *trustedCert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedCerts {
		c.m = map[[sha256.Size]byte]*trustedCert{}
	}
	c.m[fp] = tc
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
	if err := core.CheckRSAKey(pub); err != nil {
		return fail(CodeInvalidSecurityToken, "certificate "+core.ReasonOf(err))
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
