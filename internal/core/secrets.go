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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// KeyIDSize is the length of a master key's id in bytes (hex-encoded in
// the store and in reports).
const KeyIDSize = 8

// Keyring holds the keys derived from every master key a node knows: per
// master key one key for sealing recomputable secrets and one for keyed
// hashing of bearer secrets and tokens. The master keys themselves are
// not kept.
//
// One of them is active: new values are sealed and hashed under it. The
// others open and verify what was stored under them until they are
// retired (see docs/operations.md, Rotate). Which key is active is
// decided by the database (KeyringState), so every node of a cluster
// switches together; values carry the id of the key they were made with.
type Keyring struct {
	byID    map[string]*masterKey
	ids     []string // configured order; ids[0] is the node's own master_key_file
	active  atomic.Pointer[masterKey]
	mu      sync.RWMutex
	retired map[string]bool
	// original is the key of values stored without a key id (before key
	// ids existed): the key the database was created with.
	original string
}

// masterKey is one master key's derived keys.
type masterKey struct {
	id    string
	rawID []byte
	seal  cipher.AEAD
	hash  []byte
	// macs pools keyed HMAC states: hmac.New re-derives the pads on every
	// call, which dominated bearer-token checks.
	macs sync.Pool
}

// KeyID names a master key without revealing it: 16 hex digits of a keyed
// hash of a constant under the key.
func KeyID(master []byte) string {
	m := hmac.New(sha256.New, master)
	io.WriteString(m, "authgate master key id v1")
	return hex.EncodeToString(m.Sum(nil)[:KeyIDSize])
}

func deriveKey(master []byte) (*masterKey, error) {
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
	id := KeyID(master)
	raw, _ := hex.DecodeString(id)
	k := &masterKey{id: id, rawID: raw, seal: aead, hash: hashKey}
	k.macs.New = func() any { return &pooledMAC{h: hmac.New(sha256.New, k.hash)} }
	return k, nil
}

// NewKeyring derives authgate's working keys from the node's 32-byte
// master key and any previous master keys it still knows. The node's own
// key is active until ApplyState says otherwise.
func NewKeyring(master []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{byID: map[string]*masterKey{}, retired: map[string]bool{}}
	for i, m := range append([][]byte{master}, previous...) {
		mk, err := deriveKey(m)
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("previous master key %d: %w", i, err)
			}
			return nil, err
		}
		if _, dup := k.byID[mk.id]; dup {
			continue
		}
		k.byID[mk.id] = mk
		k.ids = append(k.ids, mk.id)
	}
	k.active.Store(k.byID[k.ids[0]])
	k.original = k.ids[0]
	return k, nil
}

// PrimaryKeyID is the id of the node's own master key (master_key_file):
// the key `authgate admin rotate-master-key` makes active.
func (k *Keyring) PrimaryKeyID() string { return k.ids[0] }

// ActiveKeyID is the id of the key new values are sealed and hashed under.
func (k *Keyring) ActiveKeyID() string { return k.active.Load().id }

// KeyIDs lists the ids of every master key this node knows, its own first.
func (k *Keyring) KeyIDs() []string { return slices.Clone(k.ids) }

// Has reports whether the node knows the master key id.
func (k *Keyring) Has(id string) bool { _, ok := k.byID[id]; return ok }

// resolve maps a stored key id to the key it names: "" (stored before key
// ids existed) is the original key. Unknown and retired ids give nil.
func (k *Keyring) resolve(id string) *masterKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if id == "" {
		id = k.original
	}
	if k.retired[id] {
		return nil
	}
	return k.byID[id]
}

// Resolve returns the id a stored key id stands for ("" is the original key).
func (k *Keyring) Resolve(id string) string {
	if id != "" {
		return id
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.original
}

// Fallbacks lists the known, unretired keys other than the active one:
// those a lookup by keyed hash must also try during a rotation. Usually
// empty. A lookup that has already hashed under the active key asks
// OthersThan that key's id instead: the active key may change between the
// two calls.
func (k *Keyring) Fallbacks() []string { return k.OthersThan(k.ActiveKeyID()) }

// OthersThan lists the known, unretired keys other than id: what a lookup
// that hashed under id (HashKeyed) must also try. Asking Fallbacks after
// HashKeyed instead would, when this node follows a rotation in between,
// leave out the newly active key and try the one already hashed under
// again: a value stored under the new key (by a node that followed
// first) would be refused.
func (k *Keyring) OthersThan(id string) []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []string
	for _, other := range k.ids {
		if other != id && !k.retired[other] {
			out = append(out, other)
		}
	}
	return out
}

// apply makes the database's keyring state this node's. It fails when the
// node does not know the active key.
func (k *Keyring) apply(st KeyringState) error {
	mk, ok := k.byID[st.Active]
	if !ok {
		return E(KindInvalidInput, "this node's master key differs from the database's active master key "+st.Active+
			" (the node has "+strings.Join(k.ids, ", ")+"): every node must know the active key; add its file to "+
			"master_key_file or previous_master_key_files (AUTHGATE_MASTER_KEY or --master-key-file)")
	}
	retired := map[string]bool{}
	for _, id := range st.Retired {
		retired[id] = true
	}
	k.mu.Lock()
	k.retired, k.original = retired, st.Original
	k.mu.Unlock()
	k.active.Store(mk)
	return nil
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

// Sealed blobs come in three formats. The legacy one (written before
// padding) is nonce || AES-GCM(plaintext). The padded one is sealPadded ||
// nonce || AES-GCM(len32 || plaintext || zeros) with the plaintext padded
// to a multiple of sealBucket bytes, so the stored size does not reveal a
// secret's length, and with its own AAD domain so neither format opens as
// the other. The current one is sealKeyed || key id || the padded form
// (its own AAD domain again, binding the key id): the id says which master
// key opens it. Blobs without an id open with the keys the node knows.
const (
	sealPadded = 0x02
	sealKeyed  = 0x03
	sealBucket = 64
	// sealMax bounds what may be sealed (CA and TAAP private keys are the
	// largest values sealed, a few kilobytes).
	sealMax = 1 << 20
)

func paddedAAD(aad string) []byte { return []byte("authgate pad v2\x00" + aad) }

func keyedAAD(rawID []byte, aad string) []byte {
	return append(append([]byte("authgate seal v3\x00"), rawID...), append([]byte{0}, aad...)...)
}

// SealedKeyID returns the id of the master key a blob was sealed under, ""
// for blobs sealed before key ids existed (the original key).
func SealedKeyID(sealed []byte) string {
	if len(sealed) > 1+KeyIDSize && sealed[0] == sealKeyed {
		return hex.EncodeToString(sealed[1 : 1+KeyIDSize])
	}
	return ""
}

// Seal encrypts plaintext with AES-256-GCM under the active master key,
// padded to a multiple of 64 bytes, with the key's id in front. aad binds
// the ciphertext to its context (use the credential lookup) so sealed
// blobs cannot be swapped.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	return k.sealWith(k.active.Load(), plaintext, aad)
}

func (k *Keyring) sealWith(mk *masterKey, plaintext []byte, aad string) ([]byte, error) {
	if len(plaintext) > sealMax {
		return nil, errors.New("secret too large to seal")
	}
	n := mk.seal.NonceSize()
	padded := (4 + len(plaintext) + sealBucket - 1) / sealBucket * sealBucket
	buf := make([]byte, padded)
	binary.BigEndian.PutUint32(buf, uint32(len(plaintext)))
	copy(buf[4:], plaintext)
	head := 1 + KeyIDSize + n
	out := make([]byte, head, head+padded+mk.seal.Overhead())
	out[0] = sealKeyed
	copy(out[1:], mk.rawID)
	if _, err := rand.Read(out[1+KeyIDSize:]); err != nil {
		return nil, err
	}
	return mk.seal.Seal(out, out[1+KeyIDSize:], buf, keyedAAD(mk.rawID, aad)), nil
}

// Open decrypts a blob made by Seal with the same aad, under the master
// key its id names; that key must be known and not retired. Blobs sealed
// before key ids (or before padding) existed open with any key known.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	if id := SealedKeyID(sealed); id != "" {
		mk := k.resolve(id)
		if mk == nil {
			if k.Has(id) {
				return nil, errors.New("sealed under retired master key " + id)
			}
			return nil, errors.New("sealed under master key " + id + ", which this node does not have")
		}
		n := mk.seal.NonceSize()
		body := sealed[1+KeyIDSize:]
		if len(body) < n+4+mk.seal.Overhead() {
			return nil, errors.New("sealed secret too short")
		}
		pt, err := mk.seal.Open(nil, body[:n], body[n:], keyedAAD(mk.rawID, aad))
		if err != nil {
			return nil, errors.New("sealed secret does not open with master key " + id)
		}
		return unpad(pt)
	}
	// No id: the original key made it; try it first, then the others.
	if orig := k.resolve(""); orig != nil {
		if pt, err := openUnkeyed(orig, sealed, aad); err == nil {
			return pt, nil
		}
	}
	for _, id := range k.ids {
		if mk := k.resolve(id); mk != nil {
			if pt, err := openUnkeyed(mk, sealed, aad); err == nil {
				return pt, nil
			}
		}
	}
	return nil, errors.New("sealed secret does not open with this master key")
}

func unpad(pt []byte) ([]byte, error) {
	if l := binary.BigEndian.Uint32(pt); uint64(l) <= uint64(len(pt)-4) {
		return pt[4 : 4+l], nil
	}
	return nil, errors.New("sealed secret has a bad length prefix")
}

// openUnkeyed opens the two formats without a key id.
func openUnkeyed(mk *masterKey, sealed []byte, aad string) ([]byte, error) {
	n := mk.seal.NonceSize()
	if len(sealed) > 0 && sealed[0] == sealPadded && len(sealed) >= 1+n+4+mk.seal.Overhead() {
		if pt, err := mk.seal.Open(nil, sealed[1:1+n], sealed[1+n:], paddedAAD(aad)); err == nil {
			return unpad(pt)
		}
		// A legacy blob whose random nonce happens to start with the marker.
	}
	if len(sealed) < n+mk.seal.Overhead() {
		return nil, errors.New("sealed secret too short")
	}
	pt, err := mk.seal.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed secret does not open with this master key")
	}
	return pt, nil
}

// Hash is a keyed fast hash (HMAC-SHA256) under the active master key for
// high-entropy bearer secrets and tokens. purpose separates domains so a
// hash of one kind never matches another.
func (k *Keyring) Hash(purpose, value string) []byte {
	return k.active.Load().sum(purpose, value)
}

// HashKeyed is Hash that also returns the id of the key it used, to be
// stored beside the hash.
func (k *Keyring) HashKeyed(purpose, value string) ([]byte, string) {
	mk := k.active.Load()
	return mk.sum(purpose, value), mk.id
}

// HashUnder computes the keyed hash under the master key id names ("" is
// the original key); false when the key is unknown or retired.
func (k *Keyring) HashUnder(id, purpose, value string) ([]byte, bool) {
	mk := k.resolve(id)
	if mk == nil {
		return nil, false
	}
	return mk.sum(purpose, value), true
}

// hashArray is Hash as an array: no allocation, for a hash that is only
// looked up (the token cache's key).
func (k *Keyring) hashArray(purpose, value string) [sha256.Size]byte {
	return k.active.Load().sumArray(purpose, value)
}

func (mk *masterKey) sum(purpose, value string) []byte {
	sum := mk.sumArray(purpose, value)
	return sum[:]
}

func (mk *masterKey) sumArray(purpose, value string) (sum [sha256.Size]byte) {
	m := mk.macs.Get().(*pooledMAC)
	m.h.Reset()
	// One Write of purpose, 0, value from the pooled buffer: a string
	// written to the hash.Hash interface would be copied to the heap.
	m.buf = append(append(append(m.buf[:0], purpose...), 0), value...)
	m.h.Write(m.buf)
	clear(m.buf) // the value may be a secret: not left in the pool
	// Summed into the pooled buffer: a slice handed to hash.Hash.Sum
	// escapes, an array copied out of it does not.
	m.out = m.h.Sum(m.out[:0])
	copy(sum[:], m.out)
	if cap(m.buf) > 8<<10 { // a rare long value does not stay pooled
		m.buf = nil
	}
	mk.macs.Put(m)
	return sum
}

// pooledMAC is a keyed HMAC state with the buffer its input is gathered in.
type pooledMAC struct {
	h   hash.Hash
	buf []byte
	out []byte // the last sum
}

// VerifyHash compares value's keyed hash under the active key with want
// in constant time.
func (k *Keyring) VerifyHash(purpose, value string, want []byte) bool {
	return subtle.ConstantTimeCompare(k.Hash(purpose, value), want) == 1
}

// VerifyHashUnder compares value's keyed hash under the master key id
// names with want in constant time; an unknown or retired key verifies
// nothing (after spending the same work).
func (k *Keyring) VerifyHashUnder(id, purpose, value string, want []byte) bool {
	got, ok := k.HashUnder(id, purpose, value)
	if !ok {
		k.Hash(purpose, value)
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
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

// RandomIdentifier is RandomToken for the identifiers people pass to the
// command line as arguments (a client id, an access key, a PSK identity):
// it never starts with "-", which would make one read as a flag (one draw
// in 64 did). The first character is drawn again until it is not, so the
// rest stays uniform.
func RandomIdentifier(n int) string {
	for {
		if v := RandomToken(n); v == "" || v[0] != '-' {
			return v
		}
	}
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
