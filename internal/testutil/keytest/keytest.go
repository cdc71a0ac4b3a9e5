// Package keytest makes RSA public keys of any size without generating
// them (an 8192-bit key takes seconds to generate, a fake modulus none),
// and PKCS#10 requests carrying such keys, for tests of key-size bounds.
package keytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
)

// FakeRSAKey returns a public key with a random odd modulus of exactly
// bits bits and e = 65537. It parses and marshals like a real key; nothing
// signed with it verifies.
func FakeRSAKey(bits int) *rsa.PublicKey {
	b := make([]byte, (bits+7)/8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	n := new(big.Int).SetBytes(b)
	n.SetBit(n, bits-1, 1)
	for i := bits; i < len(b)*8; i++ {
		n.SetBit(n, i, 0)
	}
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

// PublicKeyPEM is pub as SPKI PEM ("PUBLIC KEY").
func PublicKeyPEM(pub *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// CSR returns a PEM certificate request for subject carrying pub, with a
// signature that does not verify (pub has no private key).
func CSR(pub *rsa.PublicKey, subject pkix.Name) []byte {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	name, err := asn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		panic(err)
	}
	tbs, err := asn1.Marshal(struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes asn1.RawValue
	}{0, asn1.RawValue{FullBytes: name}, asn1.RawValue{FullBytes: spki},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{}}})
	if err != nil {
		panic(err)
	}
	der, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: tbs},
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue},
		asn1.BitString{Bytes: make([]byte, len(pub.N.Bytes())), BitLength: 8 * len(pub.N.Bytes())}})
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
