package rsapub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"math/big"
	"sync"
	"testing"
)

var (
	keysOnce sync.Once
	keys     []*rsa.PrivateKey
)

func testKeys(t testing.TB) []*rsa.PrivateKey {
	keysOnce.Do(func() {
		for _, bits := range []int{2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
	})
	return keys
}

func digest(h crypto.Hash, msg string) []byte {
	w := h.New()
	w.Write([]byte(msg))
	return w.Sum(nil)
}

// TestAgreesWithCryptoRSA: for valid signatures and every kind of damaged
// one, rsapub and crypto/rsa give the same answer.
func TestAgreesWithCryptoRSA(t *testing.T) {
	for _, priv := range testKeys(t) {
		pub := &priv.PublicKey
		k, err := New(pub)
		if err != nil {
			t.Fatal(err)
		}
		size := (pub.N.BitLen() + 7) / 8
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := digest(h, "message")
			sig, err := rsa.SignPKCS1v15(rand.Reader, priv, h, d)
			if err != nil {
				t.Fatal(err)
			}
			flipped := func(i int) []byte {
				s := append([]byte(nil), sig...)
				s[i] ^= 0x01
				return s
			}
			nPlus := new(big.Int).Add(new(big.Int).SetBytes(sig), pub.N).FillBytes(make([]byte, size+1))
			other := digest(h, "other message")
			cases := []struct {
				name   string
				hash   crypto.Hash
				hashed []byte
				sig    []byte
				valid  bool
			}{
				{"valid", h, d, sig, true},
				{"first byte flipped", h, d, flipped(0), false},
				{"last byte flipped", h, d, flipped(size - 1), false},
				{"middle byte flipped", h, d, flipped(size / 2), false},
				{"other digest", h, other, sig, false},
				{"digest one byte short", h, d[:len(d)-1], sig, false},
				{"signature one byte short", h, d, sig[1:], false},
				{"signature with a leading zero", h, d, append([]byte{0}, sig...), false},
				{"signature plus N", h, d, nPlus, false},
				{"signature equal to N", h, d, pub.N.FillBytes(make([]byte, size)), false},
				{"zero signature", h, d, make([]byte, size), false},
				{"all-ones signature", h, d, bytesOf(size, 0xff), false},
				{"empty signature", h, d, nil, false},
			}
			if h != crypto.SHA1 {
				cases = append(cases, struct {
					name   string
					hash   crypto.Hash
					hashed []byte
					sig    []byte
					valid  bool
				}{"signed with another hash's DigestInfo", crypto.SHA1, digest(crypto.SHA1, "message"), sig, false})
			}
			for _, c := range cases {
				got := k.VerifyPKCS1v15(c.hash, c.hashed, c.sig) == nil
				want := rsa.VerifyPKCS1v15(pub, c.hash, c.hashed, c.sig) == nil
				if got != want || got != c.valid {
					t.Errorf("%d bits %v %s: rsapub %v, crypto/rsa %v, want %v", pub.N.BitLen(), h, c.name, got, want, c.valid)
				}
			}
		}
	}
}

func bytesOf(n int, b byte) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}

func TestNewRefusesBadKeys(t *testing.T) {
	good := testKeys(t)[0].PublicKey
	small := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(1)) // odd, 512 bits
	tests := []struct {
		name string
		pub  *rsa.PublicKey
	}{
		{"nil", nil},
		{"nil modulus", &rsa.PublicKey{E: 65537}},
		{"even modulus", &rsa.PublicKey{N: new(big.Int).Add(good.N, big.NewInt(1)), E: 65537}},
		{"512-bit modulus", &rsa.PublicKey{N: small, E: 65537}},
		{"even exponent", &rsa.PublicKey{N: good.N, E: 65536}},
		{"exponent 1", &rsa.PublicKey{N: good.N, E: 1}},
		{"exponent over 2^31-1", &rsa.PublicKey{N: good.N, E: 1 << 33}},
	}
	for _, tt := range tests {
		if _, err := New(tt.pub); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestCache(t *testing.T) {
	priv := testKeys(t)[0]
	c := NewCache(2)
	d := digest(crypto.SHA256, "m")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d)
	for i := 0; i < 5; i++ { // beyond max: the cache starts over and still answers
		pub := &rsa.PublicKey{N: priv.N, E: priv.E}
		if err := c.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyPKCS1v15(pub, crypto.SHA256, digest(crypto.SHA256, "x"), sig); err == nil {
			t.Fatal("wrong digest accepted")
		}
	}
	if len(c.keys) > 2 {
		t.Fatalf("cache holds %d keys, max 2", len(c.keys))
	}
}

// FuzzVerify: any signature bytes get the same answer from rsapub and crypto/rsa.
func FuzzVerify(f *testing.F) {
	priv := testKeys(f)[0]
	k, err := New(&priv.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	d := digest(crypto.SHA256, "fuzz")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d)
	f.Add(sig, d)
	f.Add([]byte{}, d)
	f.Add(bytesOf(256, 0xff), d[:31])
	f.Fuzz(func(t *testing.T, sig, hashed []byte) {
		got := k.VerifyPKCS1v15(crypto.SHA256, hashed, sig) == nil
		want := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, hashed, sig) == nil
		if got != want {
			t.Fatalf("rsapub %v, crypto/rsa %v", got, want)
		}
	})
}

// BenchmarkVerify compares, in one run, crypto/rsa's RS256 verification
// with rsapub's on a precomputed key.
func BenchmarkVerify(b *testing.B) {
	priv := testKeys(b)[0]
	d := digest(crypto.SHA256, "bench")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d)
	k, _ := New(&priv.PublicKey)
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d, sig) != nil {
				b.Fatal("no")
			}
		}
	})
	b.Run("rsapub", func(b *testing.B) {
		for b.Loop() {
			if k.VerifyPKCS1v15(crypto.SHA256, d, sig) != nil {
				b.Fatal("no")
			}
		}
	})
}
