package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/authgate/authgate/internal/core"
)

// genCN matches the generation suffix Rollover adds to a root's name.
var genCN = regexp.MustCompile(` G[0-9]+$`)

// Rollover replaces the CA's root and issuing CAs with a new generation.
// The current generation becomes the previous one: it signs no
// certificate again, but what it issued keeps validating (device
// listener, M2M partner trust, records and revocation, its CRLs) until
// RetirePrevious drops it. Only one previous generation is kept: a
// second rollover is refused until it is retired. Options left empty take
// the current root's algorithm, key size, organisation and name (with the
// generation appended).
func (a *Authority) Rollover(ctx context.Context, opt InitOptions) (*x509.Certificate, error) {
	if opt.IssuerValidity != 0 && opt.RootValidity != 0 && opt.IssuerValidity > opt.RootValidity {
		return nil, core.E(core.KindInvalidInput, "the issuing CAs cannot outlive the root")
	}
	if _, err := a.load(ctx); err != nil { // migrates an installation without issuing CAs first
		return nil, err
	}
	d, cur, err := a.readDoc(ctx)
	if err != nil {
		return nil, err
	}
	if cur.Previous != nil {
		return nil, core.E(core.KindConflict, fmt.Sprintf("the CA still keeps generation %d from the last rollover: run `authgate ca retire-previous` first", genOf(cur.Previous.Generation)))
	}
	oldRoot, err := parsePEMCert(cur.RootPEM)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	gen := genOf(cur.Generation) + 1
	if opt.Algorithm == "" {
		switch k := oldRoot.PublicKey.(type) {
		case *rsa.PublicKey:
			opt.Algorithm = "rsa"
			if opt.RSABits == 0 {
				opt.RSABits = k.N.BitLen()
			}
		case *ecdsa.PublicKey:
			opt.Algorithm = "ecdsa"
			if opt.Curve == "" {
				opt.Curve = k.Curve.Params().Name
			}
		}
	}
	if opt.Organisation == "" && len(oldRoot.Subject.Organization) > 0 {
		opt.Organisation = oldRoot.Subject.Organization[0]
	}
	if opt.CommonName == "" {
		opt.CommonName = genCN.ReplaceAllString(oldRoot.Subject.CommonName, "") + genSuffix(gen)
	}
	opt.defaults()
	now := a.deps.Clock.Now()
	rootKey, err := a.newKey(opt)
	if err != nil {
		return nil, err
	}
	root, err := a.caCert(pkix.Name{CommonName: opt.CommonName, Organization: []string{opt.Organisation}},
		rootKey, nil, nil, now, opt.RootValidity, 1)
	if err != nil {
		return nil, err
	}
	prev := cur
	next := authorityDoc{RootPEM: pemCert(root), CreatedAt: now, KeyAlgorithm: opt.Algorithm, Generation: gen, Previous: &prev}
	if next.RootKey, err = a.sealKey(rootKey, root); err != nil {
		return nil, err
	}
	if err := a.addIssuers(&next, root, rootKey, opt, now, gen); err != nil {
		return nil, err
	}
	if d.Data, err = json.Marshal(next); err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	d.UpdatedAt = now
	if _, err := a.deps.Docs.UpdateDocument(ctx, d); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return nil, core.E(core.KindConflict, "the CA changed meanwhile (another rollover, migration or re-seal): run the command again")
		}
		return nil, err
	}
	a.invalidate()
	if err := a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditUpdate, Protocol: "ca", OrgID: core.SystemOrgID,
		Subject: root.Subject.String(), Reason: fmt.Sprintf("CA rollover to generation %d (%s); generation %d (%s) kept validate-only", gen, opt.Algorithm, gen-1, oldRoot.Subject)}); err != nil {
		return nil, err
	}
	return root, nil
}

// RetirePrevious drops the generation kept by the last rollover: its
// certificates stop validating anywhere at once (within refreshEvery on
// other nodes). It is refused while certificates of it are unexpired and
// unrevoked, unless force; it returns how many there were. Their
// records stay (list, get), without a CA that vouches for them.
func (a *Authority) RetirePrevious(ctx context.Context, force bool) (int, error) {
	d, cur, err := a.readDoc(ctx)
	if core.KindOf(err) == core.KindNotFound {
		return 0, errNotInitialised
	}
	if err != nil {
		return 0, err
	}
	if cur.Previous == nil {
		return 0, core.E(core.KindNotFound, "the CA keeps no previous generation (nothing to retire)")
	}
	prevGen := genOf(cur.Previous.Generation)
	now := a.deps.Clock.Now()
	active := 0
	const page = 500
	for off := 0; ; off += page {
		docs, _, err := a.deps.Docs.ListDocuments(ctx, collCerts, "", core.Page{Offset: off, Limit: page})
		if err != nil {
			return 0, err
		}
		for _, doc := range docs {
			var r Record
			if err := json.Unmarshal(doc.Data, &r); err != nil {
				return 0, core.Wrap(core.KindInternal, "", err)
			}
			if genOf(r.Generation) == prevGen && r.RevokedAt == nil && r.NotAfter.After(now) {
				active++
			}
		}
		if len(docs) < page {
			break
		}
	}
	if active > 0 && !force {
		return active, core.E(core.KindConflict, fmt.Sprintf("%d unexpired, unrevoked certificates were issued by generation %d: re-issue them from the current generation and revoke them (or wait until they expire), or retire with --force to stop them validating now", active, prevGen))
	}
	cur.Previous = nil
	if d.Data, err = json.Marshal(cur); err != nil {
		return 0, core.Wrap(core.KindInternal, "", err)
	}
	d.UpdatedAt = now
	if _, err := a.deps.Docs.UpdateDocument(ctx, d); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return 0, core.E(core.KindConflict, "the CA changed meanwhile: run the command again")
		}
		return 0, err
	}
	a.invalidate()
	return active, a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditUpdate, Protocol: "ca", OrgID: core.SystemOrgID,
		Subject: fmt.Sprintf("CA generation %d", prevGen), Reason: fmt.Sprintf("previous CA generation retired (%d active certificates, force %v)", active, force)})
}
