package gateway

import "github.com/authgate/authgate/internal/core"

// SealedIdentityKeys is the identity-token signing keys as sealed values,
// for master-key rotation (core.RotateMasterKey).
func SealedIdentityKeys(docs core.DocumentStore, keys *core.Keyring) core.SealedSet {
	return newIdentityKeys(DefaultConfig(), Deps{Docs: docs, Seal: keys}).Sealed("gateway_identity_keys", keys)
}
