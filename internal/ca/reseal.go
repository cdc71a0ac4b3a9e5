package ca

import (
	"context"
	"encoding/json"

	"github.com/authgate/authgate/internal/core"
)

// eachSealed calls fn with every sealed CA key of the document and the
// certificate it belongs to (its seal is bound to that certificate); fn
// may replace the blob.
func (doc *authorityDoc) eachSealed(fn func(blob *[]byte, certPEM string) error) error {
	if err := fn(&doc.RootKey, doc.RootPEM); err != nil {
		return err
	}
	if doc.IssuerPEM != "" {
		if err := fn(&doc.IssuerKey, doc.IssuerPEM); err != nil {
			return err
		}
	}
	for name, is := range doc.Issuers {
		if err := fn(&is.Key, is.CertPEM); err != nil {
			return err
		}
		doc.Issuers[name] = is
	}
	if doc.Previous != nil {
		return doc.Previous.eachSealed(fn)
	}
	return nil
}

// SealedKeys is the CA's keys as a set of sealed values, for master-key
// rotation (core.RotateMasterKey).
func (a *Authority) SealedKeys() core.SealedSet { return sealedKeys{a} }

type sealedKeys struct{ a *Authority }

var _ core.SealedSet = sealedKeys{}

func (sealedKeys) Name() string { return "ca_keys" }

func (s sealedKeys) CountSealed(ctx context.Context) (map[string]int, error) {
	_, doc, err := s.a.readDoc(ctx)
	if core.KindOf(err) == core.KindNotFound {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = doc.eachSealed(func(blob *[]byte, _ string) error {
		out[core.SealedKeyID(*blob)]++
		return nil
	})
	return out, err
}

// Reseal seals every CA key not under the active master key again; the
// update is conditional on the document's version and retried.
func (s sealedKeys) Reseal(ctx context.Context) (int, error) {
	active := s.a.deps.Keys.ActiveKeyID()
	for attempt := 0; attempt < 5; attempt++ {
		d, doc, err := s.a.readDoc(ctx)
		if core.KindOf(err) == core.KindNotFound {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		n := 0
		err = doc.eachSealed(func(blob *[]byte, certPEM string) error {
			if core.SealedKeyID(*blob) == active {
				return nil
			}
			cert, err := parsePEMCert(certPEM)
			if err != nil {
				return core.Wrap(core.KindInternal, "", err)
			}
			key, err := s.a.openKey(*blob, cert)
			if err != nil {
				return err
			}
			if *blob, err = s.a.sealKey(key, cert); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, nil
		}
		if d.Data, err = json.Marshal(doc); err != nil {
			return 0, core.Wrap(core.KindInternal, "", err)
		}
		if _, err := s.a.deps.Docs.UpdateDocument(ctx, d); err != nil {
			if core.KindOf(err) == core.KindConflict {
				continue // changed meanwhile (rollover, migration): read it again
			}
			return 0, err
		}
		return n, nil
	}
	return 0, core.E(core.KindUnavailable, "the CA document kept changing while re-sealing: run the command again")
}

// readDoc reads the stored authority document.
func (a *Authority) readDoc(ctx context.Context) (core.Document, authorityDoc, error) {
	var doc authorityDoc
	d, err := a.deps.Docs.GetDocument(ctx, collCA, idAuthority)
	if err != nil {
		return d, doc, err
	}
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		return d, doc, core.Wrap(core.KindInternal, "", err)
	}
	return d, doc, nil
}
