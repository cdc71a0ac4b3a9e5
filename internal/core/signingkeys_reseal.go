package core

import (
	"context"
	"encoding/json"
)

// Sealed is the key set as sealed values for master-key rotation
// (RotateMasterKey), named name in reports.
func (k *SigningKeys) Sealed(name string, keys *Keyring) SealedSet {
	return sealedSigningKeys{name: name, k: k, keys: keys}
}

type sealedSigningKeys struct {
	name string
	k    *SigningKeys
	keys *Keyring
}

var _ SealedSet = sealedSigningKeys{}

func (s sealedSigningKeys) Name() string { return s.name }

func (s sealedSigningKeys) CountSealed(ctx context.Context) (map[string]int, error) {
	set, _, err := s.k.load(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, sk := range set.Keys {
		out[SealedKeyID(sk.Sealed)]++
	}
	return out, nil
}

// Reseal seals every stored signing key not under the active master key
// again; the update is conditional on the document's version and retried
// (a node may rotate the signing keys meanwhile).
func (s sealedSigningKeys) Reseal(ctx context.Context) (int, error) {
	active := s.keys.ActiveKeyID()
	for attempt := 0; attempt < 5; attempt++ {
		set, doc, err := s.k.load(ctx)
		if err != nil || doc.Version == 0 {
			return 0, err
		}
		n := 0
		for i, sk := range set.Keys {
			if SealedKeyID(sk.Sealed) == active {
				continue
			}
			der, err := s.keys.Open(sk.Sealed, s.k.aad(sk.Kid))
			if err != nil {
				return 0, Wrap(KindInternal, s.k.cfg.Purpose+" does not open with this master key", err)
			}
			if set.Keys[i].Sealed, err = s.keys.Seal(der, s.k.aad(sk.Kid)); err != nil {
				return 0, err
			}
			n++
		}
		if n == 0 {
			return 0, nil
		}
		if doc.Data, err = json.Marshal(set); err != nil {
			return 0, err
		}
		if _, err := s.k.cfg.Docs.UpdateDocument(ctx, doc); err != nil {
			if KindOf(err) == KindConflict {
				continue
			}
			return 0, err
		}
		return n, nil
	}
	return 0, E(KindUnavailable, "the "+s.k.cfg.Purpose+" set kept changing while re-sealing: run the command again")
}
