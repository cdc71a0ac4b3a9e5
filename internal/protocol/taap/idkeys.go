package taap

import (
	"context"

	"github.com/authgate/authgate/internal/core"
)

// ID-token signing keys live in one core document (core.SigningKeys) so
// every node signs with the same current key and publishes the same JWKS.
// Private keys are sealed with the master key.
const (
	collectionSystem = "taap.system"
	signingKeysID    = "id-token-keys"
)

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

// newIDKeys is the ID-token key set: rotated every KeyRotation, a retired
// key published until the tokens it signed have expired.
func newIDKeys(cfg Config, d Deps) *core.SigningKeys {
	return core.NewSigningKeys(core.SigningKeysConfig{Docs: d.Docs, Seal: d.Keys, Clock: d.Clock,
		Collection: collectionSystem, ID: signingKeysID, Purpose: "taap.id-token-key", Alg: cfg.IDTokenAlg,
		Rotation: cfg.KeyRotation, Keep: cfg.IDTokenTTL + cfg.ClockSkew + core.SignerReload})
}

// SealedIDKeys is the ID-token signing keys as sealed values, for
// master-key rotation (core.RotateMasterKey).
func SealedIDKeys(docs core.DocumentStore, keys *core.Keyring) core.SealedSet {
	return newIDKeys(DefaultConfig(), Deps{Docs: docs, Keys: keys}).Sealed("taap_id_token_keys", keys)
}
