package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Revocation reasons (RFC 5280 5.3.1) accepted by Revoke.
var reasonCodes = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"cACompromise":         2,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"privilegeWithdrawn":   9,
}

// revokedEntry is one line of the CRL; kept in its own collection so a CRL
// is built from the revoked certificates only.
type revokedEntry struct {
	Serial string `json:"serial"`
	CA     string `json:"ca,omitempty"` // issuing CA's name; "" for the legacy issuer
	// Generation is the issuing CA's generation (absent: the first).
	Generation int       `json:"generation,omitempty"`
	RevokedAt  time.Time `json:"revoked_at"`
	Reason     int       `json:"reason"`
	NotAfter   time.Time `json:"not_after"`
}

// crlDoc is the current CRL, shared by all nodes.
type crlDoc struct {
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	DER        []byte    `json:"der"`
	Stale      bool      `json:"stale"` // a revocation happened since DER was made
}

// NormaliseSerial accepts hex serials as openssl prints them (colons,
// upper case, leading zeros) and returns the stored form.
func NormaliseSerial(s string) (string, error) {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), ":", ""))
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 || n.BitLen() > 160 {
		return "", core.E(core.KindInvalidInput, "serial must be a positive hexadecimal number of at most 20 bytes")
	}
	return n.Text(16), nil
}

// Get returns the record of an issued certificate.
func (a *Authority) Get(ctx context.Context, serial string) (Record, core.Document, error) {
	s, err := NormaliseSerial(serial)
	if err != nil {
		return Record{}, core.Document{}, err
	}
	d, err := a.deps.Docs.GetDocument(ctx, collCerts, s)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return Record{}, core.Document{}, core.E(core.KindNotFound, "no certificate with serial "+s)
		}
		return Record{}, core.Document{}, err
	}
	var r Record
	if err := json.Unmarshal(d.Data, &r); err != nil {
		return Record{}, core.Document{}, core.Wrap(core.KindInternal, "", err)
	}
	return r, d, nil
}

// List returns issued certificates, newest first; orgID "" lists all.
func (a *Authority) List(ctx context.Context, orgID string, p core.Page) ([]Record, int, error) {
	docs, total, err := a.deps.Docs.ListDocuments(ctx, collCerts, orgID, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Record, 0, len(docs))
	for _, d := range docs {
		var r Record
		if err := json.Unmarshal(d.Data, &r); err != nil {
			return nil, 0, core.Wrap(core.KindInternal, "", err)
		}
		out = append(out, r)
	}
	return out, total, nil
}

// RevokeRequest names a certificate to revoke.
type RevokeRequest struct {
	Serial                                    string
	Reason                                    string // a reasonCodes name; "" is unspecified
	OrgID, PrincipalID, RemoteAddr, RequestID string
}

// Revoke revokes an issued certificate. The next CRL lists it.
func (a *Authority) Revoke(ctx context.Context, req RevokeRequest) (Record, error) {
	if req.Reason == "" {
		req.Reason = "unspecified"
	}
	code, ok := reasonCodes[req.Reason]
	if !ok {
		return Record{}, core.E(core.KindInvalidInput, "unknown revocation reason "+req.Reason)
	}
	rec, doc, err := a.Get(ctx, req.Serial)
	if err != nil {
		return Record{}, err
	}
	// Everything issued on the strength of the certificate dies first (and
	// again on a repeated revocation, which so repairs an interrupted one):
	// a token must never outlive a certificate the CA lists as revoked.
	if a.deps.Retire != nil {
		if _, _, err := a.deps.Retire.RevokeCertificate(ctx, rec.SHA256, core.Revocation{Protocol: "ca", Reason: "certificate " + rec.Serial + " revoked (" + req.Reason + ")",
			OrgID: req.OrgID, PrincipalID: req.PrincipalID, RemoteAddr: req.RemoteAddr, RequestID: req.RequestID}); err != nil {
			return Record{}, err
		}
	}
	if rec.RevokedAt != nil {
		return Record{}, core.E(core.KindConflict, "certificate "+rec.Serial+" is already revoked")
	}
	now := a.deps.Clock.Now()
	entry, _ := json.Marshal(revokedEntry{Serial: rec.Serial, CA: rec.Issuer, Generation: rec.Generation, RevokedAt: now, Reason: code, NotAfter: rec.NotAfter})
	// The revocation entry is written first: it is what the CRL is built
	// from, and its primary key makes concurrent revocations collide.
	if err := a.deps.Docs.PutDocument(ctx, core.Document{Collection: collRevoked, ID: rec.Serial, OrgID: doc.OrgID,
		Data: entry, CreatedAt: now, UpdatedAt: now}); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return Record{}, core.E(core.KindConflict, "certificate "+rec.Serial+" is already revoked")
		}
		return Record{}, err
	}
	rec.RevokedAt, rec.RevocationReason = &now, req.Reason
	doc.Data, _ = json.Marshal(rec)
	doc.UpdatedAt = now
	if _, err := a.deps.Docs.UpdateDocument(ctx, doc); err != nil {
		return Record{}, err
	}
	if err := a.markCRLStale(ctx, rec.Issuer, genOf(rec.Generation)); err != nil {
		return Record{}, err
	}
	if err := a.deps.Audit.Record(ctx, core.AuditEvent{Action: core.AuditRevoke, Protocol: "ca", OrgID: req.OrgID,
		PrincipalID: req.PrincipalID, Subject: "serial " + rec.Serial + " " + rec.Subject, Reason: req.Reason,
		RemoteAddr: req.RemoteAddr, RequestID: req.RequestID}); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// crlID is the document of one CA's CRL: "crl" for the legacy issuer
// (the id the single CRL had before the issuing CAs), "crl.<name>" else,
// with "@<generation>" after the first generation.
func crlID(caName string, gen int) string {
	id := idCRL
	if caName != "" {
		id += "." + caName
	}
	if gen > 1 {
		id += fmt.Sprintf("@%d", gen)
	}
	return id
}

// crlURLFor is the distribution point of caName's CRL under base: the
// legacy issuer's is base itself, an issuing CA's adds ?ca=<name>.
func crlURLFor(base, caName string) string {
	if caName == "" {
		return base
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set("ca", caName)
	u.RawQuery = q.Encode()
	return u.String()
}

func (a *Authority) markCRLStale(ctx context.Context, caName string, gen int) error {
	for attempt := 0; attempt < 5; attempt++ {
		d, err := a.deps.Docs.GetDocument(ctx, collCA, crlID(caName, gen))
		if core.KindOf(err) == core.KindNotFound {
			return nil // no CRL yet: the first one will include everything
		}
		if err != nil {
			return err
		}
		var c crlDoc
		if err := json.Unmarshal(d.Data, &c); err != nil {
			return core.Wrap(core.KindInternal, "", err)
		}
		if c.Stale {
			return nil
		}
		c.Stale = true
		d.Data, _ = json.Marshal(c)
		d.UpdatedAt = a.deps.Clock.Now()
		if _, err := a.deps.Docs.UpdateDocument(ctx, d); err == nil || core.KindOf(err) != core.KindConflict {
			return err
		}
	}
	return core.E(core.KindUnavailable, "CRL state is contended; retry")
}

// CRL returns the legacy issuer's current CRL (DER): the root's on
// installations made with the issuing CAs. CRLOf returns an issuing CA's.
func (a *Authority) CRL(ctx context.Context) ([]byte, error) { return a.CRLOf(ctx, "") }

// CRLOf returns the current CRL (DER) of one CA: an issuing CA by name,
// or "" for the legacy issuer, of the current generation; a previous
// generation's as "<name>@<generation>" ("legacy@<generation>"; see
// ParseCAName). Each CA signs its own CRL, listing the
// certificates it issued. A CRL is re-signed after a revocation and
// CRLRefresh after it was made; every node serves the same CRL with
// increasing CRL numbers.
func (a *Authority) CRLOf(ctx context.Context, caName string) ([]byte, error) {
	m, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	g, caName, signer, err := m.resolve(caName)
	if err != nil {
		return nil, err
	}
	id := crlID(caName, g.gen)
	for attempt := 0; attempt < 5; attempt++ {
		now := a.deps.Clock.Now()
		d, err := a.deps.Docs.GetDocument(ctx, collCA, id)
		exists := err == nil
		if err != nil && core.KindOf(err) != core.KindNotFound {
			return nil, err
		}
		var cur crlDoc
		if exists {
			if err := json.Unmarshal(d.Data, &cur); err != nil {
				return nil, core.Wrap(core.KindInternal, "", err)
			}
			if !cur.Stale && now.Before(cur.ThisUpdate.Add(a.cfg.CRLRefresh)) {
				return cur.DER, nil
			}
		}
		der, next, err := a.makeCRL(ctx, signer, caName, g.gen, cur.Number+1, now)
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(crlDoc{Number: cur.Number + 1, ThisUpdate: now, NextUpdate: next, DER: der})
		if exists {
			d.Data, d.UpdatedAt = data, now
			_, err = a.deps.Docs.UpdateDocument(ctx, d)
		} else {
			err = a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCA, ID: id, Data: data, CreatedAt: now, UpdatedAt: now})
		}
		if err == nil {
			return der, nil
		}
		if core.KindOf(err) != core.KindConflict {
			return nil, err
		}
		// Another node made a CRL meanwhile (or revoked): read it again.
	}
	return nil, core.E(core.KindUnavailable, "CRL state is contended; retry")
}

func (a *Authority) makeCRL(ctx context.Context, signer issuer, caName string, gen int, number int64, now time.Time) ([]byte, time.Time, error) {
	var entries []x509.RevocationListEntry
	const page = 500
	for off := 0; ; off += page {
		docs, _, err := a.deps.Docs.ListDocuments(ctx, collRevoked, "", core.Page{Offset: off, Limit: page})
		if err != nil {
			return nil, time.Time{}, err
		}
		for _, d := range docs {
			var e revokedEntry
			if err := json.Unmarshal(d.Data, &e); err != nil {
				return nil, time.Time{}, core.Wrap(core.KindInternal, "", err)
			}
			if e.CA != caName || genOf(e.Generation) != gen {
				continue // another CA's certificate: on that CA's CRL
			}
			if e.NotAfter.Before(now) {
				continue // expired certificates may leave the CRL (RFC 5280 3.3)
			}
			sn, ok := new(big.Int).SetString(e.Serial, 16)
			if !ok {
				return nil, time.Time{}, core.E(core.KindInternal, "bad stored serial "+e.Serial)
			}
			entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: e.RevokedAt, ReasonCode: e.Reason})
		}
		if len(docs) < page {
			break
		}
	}
	next := now.Add(a.cfg.CRLValidity)
	if next.After(signer.cert.NotAfter) {
		next = signer.cert.NotAfter
	}
	der, err := x509.CreateRevocationList(a.deps.Rand, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: now, NextUpdate: next, RevokedCertificateEntries: entries,
	}, signer.cert, signer.key)
	if err != nil {
		return nil, time.Time{}, core.Wrap(core.KindInternal, "", fmt.Errorf("create CRL: %w", err))
	}
	return der, next, nil
}

// CRLPEM wraps a DER CRL in PEM ("X509 CRL").
func CRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}
