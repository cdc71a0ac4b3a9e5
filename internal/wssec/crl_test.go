package wssec_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// TestCRLFilesReload: a CRL file is looked at again at most once per
// interval, on use; a change is picked up, a broken rewrite keeps the
// previous CRL, and PEM files may hold several CRLs.
func TestCRLFilesReload(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	clock := core.NewManualClock(now)
	ca1, ca2 := wssectest.NewCA(t, "CRL CA one", 8, now), wssectest.NewCA(t, "CRL CA two", 9, now)
	c1, _ := ca1.Issue(t, wssectest.Leaf{Slot: 70, Now: now})
	c2, _ := ca2.Issue(t, wssectest.Leaf{Slot: 71, Now: now})
	crl := func(ca *wssectest.CA, serials ...*big.Int) []byte {
		var e []x509.RevocationListEntry
		for _, s := range serials {
			e = append(e, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: e}, ca.Cert, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	path := filepath.Join(t.TempDir(), "cas.crl")
	mtime := now
	write := func(data []byte) {
		mtime = mtime.Add(time.Second)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(append(crl(ca1), crl(ca2, c2.SerialNumber)...))
	f, err := wssec.NewCRLFiles([]string{path}, []*x509.Certificate{ca1.Cert, ca2.Cert}, 10*time.Second, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	revoked := func(c *x509.Certificate) bool { return f.CheckCertificate(context.Background(), c, nil) != nil }
	if revoked(c1) || !revoked(c2) {
		t.Fatalf("start: c1 revoked %v, c2 revoked %v", revoked(c1), revoked(c2))
	}
	// CA one now lists c1: seen once the interval has passed.
	write(append(crl(ca1, c1.SerialNumber), crl(ca2, c2.SerialNumber)...))
	clock.Advance(10 * time.Second)
	if !revoked(c1) || !revoked(c2) {
		t.Fatal("changed CRL file not picked up after the interval")
	}
	// A broken rewrite keeps what was in force.
	write([]byte("-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n"))
	clock.Advance(10 * time.Second)
	if !revoked(c1) || !revoked(c2) {
		t.Fatal("a broken CRL file un-revoked certificates")
	}
	// Reload (SIGHUP) reads at once, before the interval, even a rewrite
	// that kept the modification time; a broken file keeps its CRLs.
	write(append(crl(ca1), crl(ca2, c2.SerialNumber)...))
	if err := f.Reload(); err != nil || revoked(c1) || !revoked(c2) {
		t.Fatalf("Reload: %v; c1 revoked %v, c2 revoked %v", err, revoked(c1), revoked(c2))
	}
	same := append(crl(ca1, c1.SerialNumber), crl(ca2, c2.SerialNumber)...)
	st, _ := os.Stat(path)
	if err := os.WriteFile(path, same, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(path, st.ModTime(), st.ModTime())
	if err := f.Reload(); err != nil || !revoked(c1) {
		t.Fatalf("Reload of a same-time rewrite: %v; c1 revoked %v", err, revoked(c1))
	}
	write([]byte("not a crl"))
	if err := f.Reload(); err == nil || !revoked(c1) || !revoked(c2) {
		t.Fatalf("Reload of a broken file: %v; c1 revoked %v, c2 revoked %v", err, revoked(c1), revoked(c2))
	}
	// A CRL of an issuer it was not built with is refused at start.
	if _, err := wssec.NewCRLFiles([]string{path}, nil, time.Second, clock, nil); err == nil {
		t.Fatal("broken or untrusted CRL file accepted at start")
	}
}
