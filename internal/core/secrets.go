package core

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// Keyring holds the keys derived from the master key: one for sealing
// recomputable secrets, one for keyed hashing of bearer secrets and tokens.
// The master key itself is not kept.
type Keyring struct {
	seal cipher.AEAD
	hash []byte
	// macs pools keyed HMAC states: hmac.New re-derives the pads on every
	// call, which dominated bearer-token checks.
	macs sync.Pool
}

// NewKeyring derives authgate's working keys from a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	sealKey, err := hkdf.Key(sha256.New, master, nil, "authgate seal v1", 32)
	if err != nil {
		return nil, err
	}
	hashKey, err := hkdf.Key(sha256.New, master, nil, "authgate hash v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Keyring{seal: aead, hash: hashKey}
	k.macs.New = func() any { return hmac.New(sha256.New, k.hash) }
	return k, nil
}

// ParseMasterKey decodes a master key given as 64 hex digits or base64.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == MasterKeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes as 64 hex digits or base64")
}

// Sealed blobs come in two formats. The legacy one (written before padding)
// is nonce || AES-GCM(plaintext). The padded one is sealPadded || nonce ||
// AES-GCM(len32 || plaintext || zeros) with the plaintext padded to a multiple
// of sealBucket bytes, so the stored size does not reveal a secret's length,
// and with its own AAD domain so neither format opens as the other.
const (
	sealPadded = 0x02
	sealBucket = 64
	// sealMax bounds what may be sealed (CA and TAAP private keys are the
	// largest values sealed, a few kilobytes).
	sealMax = 1 << 20
)

func paddedAAD(aad string) []byte { return []byte("authgate pad v2\x00" + aad) }

// Seal encrypts plaintext with AES-256-GCM, padded to a multiple of 64
// bytes. aad binds the ciphertext to its context (use the credential
// lookup) so sealed blobs cannot be swapped.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	if len(plaintext) > sealMax {
		return nil, errors.New("secret too large to seal")
	}
	n := k.seal.NonceSize()
	padded := (4 + len(plaintext) + sealBucket - 1) / sealBucket * sealBucket
	buf := make([]byte, padded)
	binary.BigEndian.PutUint32(buf, uint32(len(plaintext)))
	copy(buf[4:], plaintext)
	out := make([]byte, 1+n, 1+n+padded+k.seal.Overhead())
	out[0] = sealPadded
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return k.seal.Seal(out, out[1:], buf, paddedAAD(aad)), nil
}

// Open decrypts a blob made by Seal with the same aad. Blobs sealed before
// padding was introduced still open.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	n := k.seal.NonceSize()
	if len(sealed) > 0 && sealed[0] == sealPadded && len(sealed) >= 1+n+4+k.seal.Overhead() {
		if pt, err := k.seal.Open(nil, sealed[1:1+n], sealed[1+n:], paddedAAD(aad)); err == nil {
			if l := binary.BigEndian.Uint32(pt); uint64(l) <= uint64(len(pt)-4) {
				return pt[4 : 4+l], nil
			}
			return nil, errors.New("sealed secret has a bad length prefix")
		}
		// A legacy blob whose random nonce happens to start with the marker.
	}
	if len(sealed) < n+k.seal.Overhead() {
		return nil, errors.New("sealed secret too short")
	}
	pt, err := k.seal.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed secret does not open with this master key")
	}
	return pt, nil
}

// Hash is a keyed fast hash (HMAC-SHA256) for high-entropy bearer secrets
// and tokens. purpose separates domains so a hash of one kind never
// matches another.
func (k *Keyring) Hash(purpose, value string) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, purpose)
	m.Write([]byte{0})
	io.WriteString(m, value)
	sum := m.Sum(make([]byte, 0, sha256.Size))
	k.macs.Put(m)
	return sum
}

// VerifyHash compares value's keyed hash with want in constant time.
func (k *Keyring) VerifyHash(purpose, value string, want []byte) bool {
	return subtle.ConstantTimeCompare(k.Hash(purpose, value), want) == 1
}

// RandomToken returns n bytes from crypto/rand as unpadded base64url, the
// form used for keys, secrets and opaque tokens.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; refuse to go on if it does.
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewID returns a random 128-bit identifier as 32 lower-case hex digits.
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// NewSortableID returns a 128-bit identifier as 32 lower-case hex digits
// whose first 48 bits are the Unix time in milliseconds and the other 80
// come from crypto/rand. Ids made later sort later, so rows keyed by them
// are appended to their index instead of dirtying a random page each
// (which dominated token issuance on SQLite).
func NewSortableID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// argon2id parameters (RFC 9106 second recommendation, memory-constrained).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes a human-chosen password with argon2id and returns the
// PHC-style encoded string.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// VerifyPassword checks password against an encoded argon2id hash in constant time.
func VerifyPassword(password, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
