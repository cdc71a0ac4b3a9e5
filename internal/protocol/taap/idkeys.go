package taap

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authgate/authgate/internal/core"
)

// ID-token signing keys live in one core document so every node signs
// with the same current key and publishes the same JWKS. Private keys are
// sealed with the master key.
const (
	collectionSystem = "taap.system"
	signingKeysID    = "id-token-keys"
	// signerReload bounds how long a node signs with a key set it read
	// earlier (it sees another node's rotation this late at most).
	signerReload = 30 * time.Second
)

type storedKey struct {
	Kid     string          `json:"kid"`
	Alg     string          `json:"alg"`
	Created time.Time       `json:"created"`
	Retired *time.Time      `json:"retired,omitempty"` // when a newer key took over
	Public  json.RawMessage `json:"public"`            // public JWK
	Sealed  []byte          `json:"sealed"`            // PKCS#8 private key, sealed
}

type keySet struct {
	Keys []storedKey `json:"keys"` // newest first
}

type (
	sealer interface {
		Seal(plaintext []byte, aad string) ([]byte, error)
		Open(sealed []byte, aad string) ([]byte, error)
	}
	documents interface {
		PutDocument(ctx context.Context, d core.Document) error
		GetDocument(ctx context.Context, collection, id string) (core.Document, error)
		UpdateDocument(ctx context.Context, d core.Document) (core.Document, error)
	}
)

var (
	_ sealer    = (*core.Keyring)(nil)
	_ documents = (core.Store)(nil)
)

// keyManager signs ID tokens with the current key, rotates keys on
// schedule (any node may; optimistic versioning makes one win) and keeps
// retired keys in the JWKS until the tokens they signed have expired.
type keyManager struct {
	docs     documents
	seal     sealer
	clock    core.Clock
	alg      string
	rotation time.Duration
	keep     time.Duration // how long a retired key is still published

	mu      sync.Mutex
	loaded  time.Time
	current *signer
}

type signer struct {
	kid     string
	created time.Time
	sig     jose.Signer
}

func sealAAD(kid string) string { return "taap.id-token-key:" + kid }

// signer returns the current signing key, loading, creating or rotating
// the stored key set as needed.
func (k *keyManager) signer(ctx context.Context) (*signer, error) {
	now := k.clock.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil && fresh(now, k.loaded, signerReload) && now.Sub(k.current.created) < k.rotation {
		return k.current, nil
	}
	for attempt := 0; attempt < 5; attempt++ {
		set, doc, err := k.load(ctx)
		if err != nil {
			return nil, err
		}
		if len(set.Keys) > 0 && now.Sub(set.Keys[0].Created) < k.rotation {
			s, err := k.open(set.Keys[0])
			if err != nil {
				return nil, err
			}
			k.current, k.loaded = s, now
			return s, nil
		}
		if err := k.rotate(ctx, set, doc, now); err != nil {
			if core.KindOf(err) == core.KindConflict {
				continue // another node wrote first: read its set
			}
			return nil, err
		}
	}
	return nil, core.E(core.KindUnavailable, "could not settle the ID-token signing key")
}

// load reads the key set; doc.Version 0 means it does not exist yet.
func (k *keyManager) load(ctx context.Context) (keySet, core.Document, error) {
	var set keySet
	doc, err := k.docs.GetDocument(ctx, collectionSystem, signingKeysID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return set, core.Document{}, nil
		}
		return set, doc, err
	}
	if err := json.Unmarshal(doc.Data, &set); err != nil {
		return set, doc, core.Wrap(core.KindInternal, "unreadable ID-token key set", err)
	}
	return set, doc, nil
}

// rotate adds a new key in front, retires the previous one and drops keys
// retired longer ago than keep.
func (k *keyManager) rotate(ctx context.Context, set keySet, doc core.Document, now time.Time) error {
	nk, err := k.generate(now)
	if err != nil {
		return err
	}
	keys := []storedKey{nk}
	for i, old := range set.Keys {
		if i == 0 && old.Retired == nil {
			at := now
			old.Retired = &at
		}
		if old.Retired != nil && now.Sub(*old.Retired) > k.keep {
			continue
		}
		keys = append(keys, old)
	}
	data, err := json.Marshal(keySet{Keys: keys})
	if err != nil {
		return err
	}
	if doc.Version == 0 {
		return k.docs.PutDocument(ctx, core.Document{Collection: collectionSystem, ID: signingKeysID, OrgID: core.SystemOrgID, Data: data, CreatedAt: now})
	}
	doc.Data = data
	_, err = k.docs.UpdateDocument(ctx, doc)
	return err
}

func (k *keyManager) generate(now time.Time) (storedKey, error) {
	var priv crypto.Signer
	var err error
	if k.alg == "RS256" {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return storedKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedKey{}, err
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: k.alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storedKey{}, err
	}
	pub.KeyID = b64enc(tp)[:16]
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return storedKey{}, err
	}
	sealed, err := k.seal.Seal(der, sealAAD(pub.KeyID))
	if err != nil {
		return storedKey{}, err
	}
	return storedKey{Kid: pub.KeyID, Alg: k.alg, Created: now.UTC(), Public: pubJSON, Sealed: sealed}, nil
}

func (k *keyManager) open(sk storedKey) (*signer, error) {
	if k.current != nil && k.current.kid == sk.Kid {
		return k.current, nil
	}
	der, err := k.seal.Open(sk.Sealed, sealAAD(sk.Kid))
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "ID-token key does not open with this master key", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "unreadable ID-token key", err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: jose.JSONWebKey{Key: priv, KeyID: sk.Kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "ID-token signer", err)
	}
	return &signer{kid: sk.Kid, created: sk.Created, sig: sig}, nil
}

// jwks returns the published key set: the current key and retired keys
// whose tokens may still be valid. It reads the store every time so a
// rotation on any node is published at once.
func (k *keyManager) jwks(ctx context.Context) (jose.JSONWebKeySet, error) {
	if _, err := k.signer(ctx); err != nil { // makes sure a key exists
		return jose.JSONWebKeySet{}, err
	}
	set, _, err := k.load(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := k.clock.Now()
	out := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range set.Keys {
		if sk.Retired != nil && now.Sub(*sk.Retired) > k.keep {
			continue
		}
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON(sk.Public); err != nil {
			return out, core.Wrap(core.KindInternal, "unreadable ID-token public key", err)
		}
		out.Keys = append(out.Keys, j)
	}
	return out, nil
}
