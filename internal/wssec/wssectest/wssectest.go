// Package wssectest makes X.509 material for WS-Security tests with
// crypto/x509 directly: a small CA and end-entity certificates whose key
// size, usages and validity each test can bend.
package wssectest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// keyCache reuses RSA keys across tests of one process: generating them
// dominates test time, and no test depends on a key being fresh.
var keyCache sync.Map // bits -> chan *rsa.PrivateKey pool

// Key returns an RSA key of bits, possibly shared with other tests.
func Key(t testing.TB, bits int, slot int) *rsa.PrivateKey {
	t.Helper()
	type k struct{ bits, slot int }
	if v, ok := keyCache.Load(k{bits, slot}); ok {
		return v.(*rsa.PrivateKey)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := keyCache.LoadOrStore(k{bits, slot}, key)
	return v.(*rsa.PrivateKey)
}

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewCA makes a self-signed CA valid around now; slot picks a cached key
// (different slots give different CAs).
func NewCA(t testing.TB, name string, slot int, now time.Time) *CA {
	t.Helper()
	key := Key(t, 2048, 100+slot)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"authgate test"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, Key: key}
}

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf describes an end-entity certificate. Zero values give a valid
// M2M signing certificate: RSA 2048, digitalSignature, clientAuth, valid
// for a year around Now.
type Leaf struct {
	CN, OU      string
	O           string // default "Sample Organization S.E."
	Bits        int
	Slot        int // key cache slot
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	NotBefore   time.Time
	NotAfter    time.Time
	Now         time.Time
	DNSNames    []string
	IPs         []net.IP
	SelfSigned  bool
	// SubjectKeyID is written as the subject key identifier extension
	// (crypto/x509 writes none for end-entity certificates).
	SubjectKeyID []byte
}

// Issue makes the certificate described by l (signed by ca unless SelfSigned).
func (ca *CA) Issue(t testing.TB, l Leaf) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	if l.Bits == 0 {
		l.Bits = 2048
	}
	if l.Now.IsZero() {
		l.Now = time.Now()
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = l.Now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = l.Now.Add(365 * 24 * time.Hour)
	}
	if l.KeyUsage == 0 {
		l.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if l.ExtKeyUsage == nil {
		l.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if l.CN == "" {
		l.CN = "partner.example"
	}
	if l.O == "" {
		l.O = "Sample Organization S.E."
	}
	key := Key(t, l.Bits, l.Slot)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: l.CN, OrganizationalUnit: nonEmpty(l.OU), Organization: []string{l.O}, Country: []string{"DE"}},
		NotBefore:    l.NotBefore, NotAfter: l.NotAfter,
		KeyUsage: l.KeyUsage, ExtKeyUsage: l.ExtKeyUsage, BasicConstraintsValid: true,
		DNSNames: l.DNSNames, IPAddresses: l.IPs, SubjectKeyId: l.SubjectKeyID,
	}
	parent, signer := ca.Cert, ca.Key
	if l.SelfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// CertPEM encodes a certificate.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a key as PKCS#8.
func KeyPEM(k *rsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFiles writes name.crt and name.key under dir and returns their paths.
func WriteFiles(t testing.TB, dir, name string, c *x509.Certificate, k *rsa.PrivateKey) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, CertPEM(c), 0o644); err != nil {
		t.Fatal(err)
	}
	if k != nil {
		if err := os.WriteFile(keyPath, KeyPEM(k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certPath, keyPath
}
