// Package rsapub verifies RSA PKCS#1 v1.5 signatures with the public
// modulus's Montgomery constants computed once per key instead of on every
// verification, as crypto/rsa does (rebuilding them was a third of the cost
// of an RS256 verification, and a PoP or WS-Security request verifies with
// the same registered key again and again).
//
// The arithmetic is filippo.io/bigmod, the same code as the standard
// library's internal bigmod; the encoding check builds the whole expected
// encoded message and compares it byte for byte, as crypto/rsa does, so no
// parser of the decrypted block exists to get wrong. Tests check every
// answer against crypto/rsa.
package rsapub

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"sync"

	"filippo.io/bigmod"
)

// ErrVerification is returned for any signature that does not verify.
var ErrVerification = errors.New("rsapub: verification error")

// digestInfo is the DER prefix of DigestInfo per hash (RFC 8017, 9.2 note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// Key is an RSA public key with its modulus precomputed. It is immutable
// and safe for concurrent use.
type Key struct {
	pub *rsa.PublicKey
	n   *bigmod.Modulus
	e   uint
}

// New precomputes pub. It refuses what crypto/rsa refuses to verify with:
// an even or short modulus (under 1024 bits), an even exponent, or one
// outside [3, 2^31-1].
func New(pub *rsa.PublicKey) (*Key, error) {
	if pub == nil || pub.N == nil || pub.N.Sign() <= 0 || pub.N.Bit(0) == 0 || pub.N.BitLen() < 1024 {
		return nil, errors.New("rsapub: invalid modulus")
	}
	if pub.E < 3 || pub.E > 1<<31-1 || pub.E&1 == 0 {
		return nil, errors.New("rsapub: invalid public exponent")
	}
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return nil, errors.New("rsapub: invalid modulus")
	}
	return &Key{pub: pub, n: n, e: uint(pub.E)}, nil
}

// Public returns the key it was built from.
func (k *Key) Public() *rsa.PublicKey { return k.pub }

// VerifyPKCS1v15 reports whether sig is a valid RSASSA-PKCS1-v1_5
// signature of hashed (the digest, computed with hash) under k; it accepts
// exactly what rsa.VerifyPKCS1v15 accepts for SHA-1 and SHA-2 digests.
func (k *Key) VerifyPKCS1v15(hash crypto.Hash, hashed, sig []byte) error {
	prefix, ok := digestInfo[hash]
	if !ok || len(hashed) != hash.Size() {
		return ErrVerification
	}
	size := k.n.Size()
	// The encoded message is 00 01 FF..FF 00 DigestInfo digest with at
	// least 8 bytes of FF (RFC 8017, 9.2 step 3).
	tLen := len(prefix) + len(hashed)
	if size < tLen+11 || len(sig) != size {
		return ErrVerification
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n) // fails for sig >= N
	if err != nil {
		return ErrVerification
	}
	em := bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Bytes(k.n)
	want := make([]byte, size)
	want[1] = 1
	for i := 2; i < size-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[size-tLen:], prefix)
	copy(want[size-len(hashed):], hashed)
	if !bytes.Equal(em, want) { // public data: no timing secret to keep
		return ErrVerification
	}
	return nil
}

// Cache maps public keys to their precomputed form, so a caller holding
// *rsa.PublicKey values (parsed once per client or certificate) pays the
// precomputation once per key. Keys are held by pointer: a key must not be
// modified after its first use. The cache is bounded: past max entries it
// starts over.
type Cache struct {
	mu   sync.Mutex
	keys map[*rsa.PublicKey]*Key
	max  int
}

// NewCache returns a cache of at most max keys (default 4096 when max <= 0).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = 4096
	}
	return &Cache{keys: map[*rsa.PublicKey]*Key{}, max: max}
}

// Get returns the precomputed form of pub, computing it on first use.
func (c *Cache) Get(pub *rsa.PublicKey) (*Key, error) {
	c.mu.Lock()
	k, ok := c.keys[pub]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := New(pub)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.keys) >= c.max {
		clear(c.keys)
	}
	c.keys[pub] = k
	c.mu.Unlock()
	return k, nil
}

// VerifyPKCS1v15 verifies with pub's precomputed form; a key the
// precomputation refuses is verified by crypto/rsa, whose answer stands.
func (c *Cache) VerifyPKCS1v15(pub *rsa.PublicKey, hash crypto.Hash, hashed, sig []byte) error {
	k, err := c.Get(pub)
	if err != nil {
		return rsa.VerifyPKCS1v15(pub, hash, hashed, sig)
	}
	return k.VerifyPKCS1v15(hash, hashed, sig)
}
