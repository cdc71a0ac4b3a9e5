package core

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// SigningKeys keeps a rotating set of JWT signing keys in one store
// document, so every node signs with the same current key and publishes
// the same JWKS (TAAP ID tokens, the gateway's identity tokens). Private
// keys are sealed with the master key under an AAD naming their purpose
// and kid, so a sealed key cannot be moved to another purpose.
//
// Rotation: any node may rotate (optimistic versioning of the document
// makes one win). A new key is published Prepublish before it signs, so
// a verifier that caches the JWKS for less than that already knows it;
// a retired key stays published Keep after it stopped signing, so the
// tokens it signed can be verified until they expire.
type SigningKeys struct {
	cfg SigningKeysConfig

	mu      sync.Mutex
	loaded  time.Time
	current *KeySigner
}

// SigningKeysConfig configures a SigningKeys.
type SigningKeysConfig struct {
	Docs       signingKeyDocs
	Seal       signingKeySealer
	Clock      Clock
	Collection string // document collection and id of the key set
	ID         string
	Purpose    string        // sealing AAD prefix, e.g. "taap.id-token-key"
	Alg        string        // ES256 or RS256
	Rotation   time.Duration // how long one key signs
	Keep       time.Duration // how long a retired key stays published
	// Prepublish is how long a new key is published before it signs
	// (0: it signs at once).
	Prepublish time.Duration
}

type (
	signingKeySealer interface {
		Seal(plaintext []byte, aad string) ([]byte, error)
		Open(sealed []byte, aad string) ([]byte, error)
	}
	signingKeyDocs interface {
		PutDocument(ctx context.Context, d Document) error
		GetDocument(ctx context.Context, collection, id string) (Document, error)
		UpdateDocument(ctx context.Context, d Document) (Document, error)
	}
)

var (
	_ signingKeySealer = (*Keyring)(nil)
	_ signingKeyDocs   = (Store)(nil)
)

// SignerReload bounds how long a node signs with a key set it read
// earlier: it sees another node's rotation this late at most. Keep should
// include it.
const SignerReload = 30 * time.Second

// KeySigner is the current signing key.
type KeySigner struct {
	Kid     string
	Created time.Time
	Signer  jose.Signer
}

type storedSigningKey struct {
	Kid     string          `json:"kid"`
	Alg     string          `json:"alg"`
	Created time.Time       `json:"created"`
	Retired *time.Time      `json:"retired,omitempty"` // when a newer key was added
	Public  json.RawMessage `json:"public"`            // public JWK
	Sealed  []byte          `json:"sealed"`            // PKCS#8 private key, sealed
}

type storedSigningKeySet struct {
	Keys []storedSigningKey `json:"keys"` // newest first
}

// NewSigningKeys builds the key set manager; nothing is read or created
// until the first Signer or JWKS call.
func NewSigningKeys(cfg SigningKeysConfig) *SigningKeys {
	return &SigningKeys{cfg: cfg}
}

func (k *SigningKeys) aad(kid string) string { return k.cfg.Purpose + ":" + kid }

// loadedFresh reports whether something loaded at loaded is younger than
// ttl at now. A clock that stepped back makes the entry stale rather than
// extending its life by the size of the step.
func loadedFresh(now, loaded time.Time, ttl time.Duration) bool {
	age := now.Sub(loaded)
	return age >= 0 && age < ttl
}

// Signer returns the key that signs now, loading, creating or rotating the
// stored key set as needed.
func (k *SigningKeys) Signer(ctx context.Context) (*KeySigner, error) {
	now := k.cfg.Clock.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil && loadedFresh(now, k.loaded, SignerReload) && now.Sub(k.current.Created) < k.cfg.Rotation {
		return k.current, nil
	}
	for attempt := 0; attempt < 5; attempt++ {
		set, doc, err := k.load(ctx)
		if err != nil {
			return nil, err
		}
		// A new key is due Prepublish before the signing one ends its rotation.
		if len(set.Keys) > 0 && now.Sub(set.Keys[0].Created) < k.cfg.Rotation-k.cfg.Prepublish {
			s, err := k.open(k.signing(set, now))
			if err != nil {
				return nil, err
			}
			k.current, k.loaded = s, now
			return s, nil
		}
		if err := k.rotate(ctx, set, doc, now); err != nil {
			if KindOf(err) == KindConflict {
				continue // another node wrote first: read its set
			}
			return nil, err
		}
	}
	return nil, E(KindUnavailable, "could not settle the "+k.cfg.Purpose+" signing key")
}

// signing picks the key that signs at now: the newest one published at
// least Prepublish ago, or the newest when it is the only one.
func (k *SigningKeys) signing(set storedSigningKeySet, now time.Time) storedSigningKey {
	for _, sk := range set.Keys {
		if now.Sub(sk.Created) >= k.cfg.Prepublish {
			return sk
		}
	}
	return set.Keys[len(set.Keys)-1]
}

// load reads the key set; doc.Version 0 means it does not exist yet.
func (k *SigningKeys) load(ctx context.Context) (storedSigningKeySet, Document, error) {
	var set storedSigningKeySet
	doc, err := k.cfg.Docs.GetDocument(ctx, k.cfg.Collection, k.cfg.ID)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return set, Document{}, nil
		}
		return set, doc, err
	}
	if err := json.Unmarshal(doc.Data, &set); err != nil {
		return set, doc, Wrap(KindInternal, "unreadable "+k.cfg.Purpose+" key set", err)
	}
	return set, doc, nil
}

// expired reports whether a retired key is past its publication.
func (k *SigningKeys) expired(sk storedSigningKey, now time.Time) bool {
	return sk.Retired != nil && now.Sub(*sk.Retired) > k.cfg.Keep+k.cfg.Prepublish
}

// rotate adds a new key in front, retires the previous one and drops keys
// retired longer ago than Keep (+ Prepublish, during which they still signed).
func (k *SigningKeys) rotate(ctx context.Context, set storedSigningKeySet, doc Document, now time.Time) error {
	nk, err := k.generate(now)
	if err != nil {
		return err
	}
	keys := []storedSigningKey{nk}
	for i, old := range set.Keys {
		if i == 0 && old.Retired == nil {
			at := now
			old.Retired = &at
		}
		if k.expired(old, now) {
			continue
		}
		keys = append(keys, old)
	}
	data, err := json.Marshal(storedSigningKeySet{Keys: keys})
	if err != nil {
		return err
	}
	if doc.Version == 0 {
		return k.cfg.Docs.PutDocument(ctx, Document{Collection: k.cfg.Collection, ID: k.cfg.ID, OrgID: SystemOrgID, Data: data, CreatedAt: now})
	}
	doc.Data = data
	_, err = k.cfg.Docs.UpdateDocument(ctx, doc)
	return err
}

func (k *SigningKeys) generate(now time.Time) (storedSigningKey, error) {
	var priv crypto.Signer
	var err error
	if k.cfg.Alg == "RS256" {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return storedSigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedSigningKey{}, err
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: k.cfg.Alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storedSigningKey{}, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)[:16]
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return storedSigningKey{}, err
	}
	sealed, err := k.cfg.Seal.Seal(der, k.aad(pub.KeyID))
	if err != nil {
		return storedSigningKey{}, err
	}
	return storedSigningKey{Kid: pub.KeyID, Alg: k.cfg.Alg, Created: now.UTC(), Public: pubJSON, Sealed: sealed}, nil
}

func (k *SigningKeys) open(sk storedSigningKey) (*KeySigner, error) {
	if k.current != nil && k.current.Kid == sk.Kid {
		return k.current, nil
	}
	der, err := k.cfg.Seal.Open(sk.Sealed, k.aad(sk.Kid))
	if err != nil {
		return nil, Wrap(KindInternal, k.cfg.Purpose+" does not open with this master key", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, Wrap(KindInternal, "unreadable "+k.cfg.Purpose, err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: jose.JSONWebKey{Key: priv, KeyID: sk.Kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, Wrap(KindInternal, k.cfg.Purpose+" signer", err)
	}
	return &KeySigner{Kid: sk.Kid, Created: sk.Created, Signer: sig}, nil
}

// JWKS returns the published key set: keys about to sign, the current key
// and retired keys whose tokens may still be valid. It reads the store
// every time so a rotation on any node is published at once.
func (k *SigningKeys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if _, err := k.Signer(ctx); err != nil { // makes sure a key exists
		return jose.JSONWebKeySet{}, err
	}
	set, _, err := k.load(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := k.cfg.Clock.Now()
	out := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range set.Keys {
		if k.expired(sk, now) {
			continue
		}
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON(sk.Public); err != nil {
			return out, Wrap(KindInternal, "unreadable "+k.cfg.Purpose+" public key", err)
		}
		out.Keys = append(out.Keys, j)
	}
	return out, nil
}
