package ca

import (
	"context"
	"crypto/sha1" //nolint:gosec // ThumbprintSHA1 is defined with SHA-1: a name, not a signature
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// collCertKeys indexes signing certificates by the names WS-Security
// senders use instead of sending the certificate: "sha1:<hex>" (the
// ThumbprintSHA1 of the DER certificate) and "ski:<hex>" (the subject key
// identifier, which certificates re-issued for one key share). Records
// are keyed by serial, which is all X509IssuerSerial needs.
const collCertKeys = "ca_cert_keys"

// keyIndexDoc lists the serials of the certificates with one name,
// newest first.
type keyIndexDoc struct {
	Serials []string `json:"serials"`
}

// maxIndexedSerials bounds one name's list (a key re-certified more often
// keeps its newest certificates).
const maxIndexedSerials = 16

// Key reference kinds FindByKeyReference looks up.
const (
	KeyThumbprintSHA1 = "sha1"
	KeySubjectKeyID   = "ski"
)

// indexKeys records a newly issued signing certificate under its
// thumbprint and subject key identifier. A failure is logged and leaves
// the certificate findable by serial only: the issue itself stands.
func (a *Authority) indexKeys(ctx context.Context, cert *x509.Certificate, serial string, now time.Time) {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // see the import
	ids := []string{KeyThumbprintSHA1 + ":" + hex.EncodeToString(sum[:])}
	if len(cert.SubjectKeyId) > 0 {
		ids = append(ids, KeySubjectKeyID+":"+hex.EncodeToString(cert.SubjectKeyId))
	}
	for _, id := range ids {
		if err := a.addToIndex(ctx, id, serial, now); err != nil {
			a.deps.Log.LogAttrs(ctx, slog.LevelWarn, "ca: certificate not indexed by key reference",
				slog.String("serial", serial), slog.String("name", id), slog.Any("err", err))
		}
	}
}

func (a *Authority) addToIndex(ctx context.Context, id, serial string, now time.Time) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ { // concurrent issues for one key: retry on conflict
		var d core.Document
		d, err = a.deps.Docs.GetDocument(ctx, collCertKeys, id)
		if core.KindOf(err) == core.KindNotFound {
			data, _ := json.Marshal(keyIndexDoc{Serials: []string{serial}})
			err = a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCertKeys, ID: id, OrgID: core.SystemOrgID,
				Data: data, CreatedAt: now, UpdatedAt: now})
		} else if err == nil {
			var doc keyIndexDoc
			if err = json.Unmarshal(d.Data, &doc); err != nil {
				return err
			}
			doc.Serials = append([]string{serial}, doc.Serials...)
			if len(doc.Serials) > maxIndexedSerials {
				doc.Serials = doc.Serials[:maxIndexedSerials]
			}
			d.Data, _ = json.Marshal(doc)
			d.UpdatedAt = now
			_, err = a.deps.Docs.UpdateDocument(ctx, d)
		}
		if core.KindOf(err) != core.KindConflict {
			return err
		}
	}
	return err
}

// FindByKeyReference returns the records of the signing certificates
// issued here under a key reference: kind KeyThumbprintSHA1 or
// KeySubjectKeyID and its value. None is not an error. Certificates
// issued before this index existed are found by serial (Get) only.
func (a *Authority) FindByKeyReference(ctx context.Context, kind string, value []byte) ([]Record, error) {
	if kind != KeyThumbprintSHA1 && kind != KeySubjectKeyID || len(value) == 0 || len(value) > 64 {
		return nil, core.E(core.KindInvalidInput, "unknown key reference")
	}
	d, err := a.deps.Docs.GetDocument(ctx, collCertKeys, kind+":"+hex.EncodeToString(value))
	if core.KindOf(err) == core.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc keyIndexDoc
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		return nil, core.Wrap(core.KindInternal, "", err)
	}
	var out []Record
	for i, s := range doc.Serials {
		if i >= maxIndexedSerials {
			break
		}
		rec, _, err := a.Get(ctx, s)
		if core.KindOf(err) == core.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
