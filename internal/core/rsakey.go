package core

import (
	"crypto/rsa"
	"strconv"
)

// RSA key sizes accepted anywhere a key arrives from outside: client PoP
// keys, keys given to the PoP explainer, WS-Security and device
// certificates, CSRs. Below 2048 bits is breakable; above 4096 a single
// verification costs more than a request may (verification time grows with
// the square of the modulus: a 45,000-bit key takes ~50 ms), for no
// security any peer needs.
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// CheckRSAKey is the one rule for RSA public keys from outside: 2048 to
// 4096 bits, and an odd public exponent of at least 3 (the x509 parser
// already bounds it to 31 bits). The error is KindInvalidInput with a
// reason that says what was given and what is accepted.
func CheckRSAKey(k *rsa.PublicKey) error {
	if k == nil || k.N == nil || k.N.Sign() <= 0 {
		return E(KindInvalidInput, "RSA key is empty")
	}
	if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return E(KindInvalidInput, "RSA key has "+strconv.Itoa(n)+" bits; "+strconv.Itoa(MinRSABits)+" to "+strconv.Itoa(MaxRSABits)+" bits are accepted")
	}
	if k.E < 3 || k.E%2 == 0 {
		return E(KindInvalidInput, "RSA key has an invalid public exponent")
	}
	return nil
}
