package ca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"sync"

	"github.com/authgate/authgate/internal/core"
)

// issuedHere remembers, by certificate fingerprint, whether one of this
// CA's certificates signed it: a fixed fact, so the signature check runs
// once per certificate. Bounded; it starts over when full.
type issuedHere struct {
	mu  sync.Mutex
	mat *material // the CA material m was computed against
	m   map[[sha256.Size]byte]bool
}

const maxIssuedHere = 4096

// ours reports whether cert was signed by one of m's CA certificates (the
// root, the legacy intermediate or an issuing CA, of the current
// generation or the previous one). The memo is keyed by the CA material
// too: a retired generation's certificates stop being ours.
func (a *Authority) ours(m *material, cert *x509.Certificate, fp [sha256.Size]byte) bool {
	a.here.mu.Lock()
	if a.here.mat != m {
		a.here.m, a.here.mat = nil, m
	}
	v, ok := a.here.m[fp]
	a.here.mu.Unlock()
	if ok {
		return v
	}
	var cas []*x509.Certificate
	for _, g := range m.generations() {
		cas = append(cas, g.root, g.legacy)
		for _, is := range g.issuers {
			cas = append(cas, is.cert)
		}
	}
	for _, c := range cas {
		if bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			v = true
			break
		}
	}
	a.here.mu.Lock()
	if a.here.mat != m {
		a.here.mu.Unlock()
		return v // the material changed meanwhile: not memoised against the new one
	}
	if a.here.m == nil || len(a.here.m) >= maxIssuedHere {
		a.here.m = map[[sha256.Size]byte]bool{}
	}
	a.here.m[fp] = v
	a.here.mu.Unlock()
	return v
}

// CheckPartnerCertificate is the CA's word on a certificate presented as
// an M2M partner's signing certificate in env. Certificates this CA did
// not sign are not its business (nil). One it signed must be in its
// records, unrevoked, issued under the signing profile for env: a device
// certificate, an SSL server certificate or the other environment's is
// refused (KindForbidden), a revoked one is KindRevoked. The record is
// read from the store on every call, so a revocation on any node is
// seen by every node at the next message.
func (a *Authority) CheckPartnerCertificate(ctx context.Context, cert *x509.Certificate, env Environment) error {
	m, err := a.load(ctx)
	if err == errNotInitialised {
		return nil // no CA: nothing was issued here
	}
	if err != nil {
		return err
	}
	fp := sha256.Sum256(cert.Raw)
	if !a.ours(m, cert, fp) {
		return nil
	}
	rec, _, err := a.Get(ctx, cert.SerialNumber.Text(16))
	if core.KindOf(err) == core.KindNotFound || err == nil && rec.SHA256 != hex.EncodeToString(fp[:]) {
		return core.E(core.KindForbidden, "certificate signed by authgate's CA is not in its records")
	}
	if err != nil {
		return err
	}
	if rec.RevokedAt != nil {
		return core.E(core.KindRevoked, "certificate "+rec.Serial+" was revoked by authgate's CA ("+rec.RevocationReason+")")
	}
	if rec.Profile != "signing" || rec.Environment != string(env) {
		return core.E(core.KindForbidden, "certificate "+rec.Serial+" was issued as "+rec.Profile+" "+rec.Environment+", not as a "+string(env)+" signing certificate")
	}
	return nil
}
