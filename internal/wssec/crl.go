package wssec

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// MaxCRLFileBytes bounds one CRL file.
const MaxCRLFileBytes = 32 << 20

// CRLFiles refuses certificates listed in CRL files (PEM or DER, one or
// more CRLs per PEM file). Each CRL must be signed by one of the issuer
// certificates it is built with. The files are looked at again, by
// modification time and size, at most once per interval, on use: a
// changed file is read and takes effect at the first message after the
// interval has passed. A file that no longer reads or verifies keeps the
// CRLs it had (logged): a broken update never un-revokes. A CRL past its
// nextUpdate still revokes what it lists (logged once).
type CRLFiles struct {
	paths    []string
	issuers  []*x509.Certificate
	interval time.Duration
	clock    core.Clock
	log      *slog.Logger

	mu      sync.Mutex
	checked time.Time
	files   map[string]crlFile
	stale   map[string]bool // CRLs already logged as past nextUpdate
}

var _ CertificateChecker = (*CRLFiles)(nil)

// crlFile is what was read from one path.
type crlFile struct {
	modTime time.Time
	size    int64
	crls    []loadedCRL
}

type loadedCRL struct {
	rawIssuer  []byte
	nextUpdate time.Time
	serials    map[string]bool // big.Int.Text(16)
}

// NewCRLFiles reads the files now; any that does not read or verify is
// an error (a configuration mistake is reported at start).
func NewCRLFiles(paths []string, issuers []*x509.Certificate, interval time.Duration, clock core.Clock, log *slog.Logger) (*CRLFiles, error) {
	if clock == nil {
		clock = core.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = 30 * time.Second
	}
	c := &CRLFiles{paths: paths, issuers: issuers, interval: interval, clock: clock, log: log,
		files: map[string]crlFile{}, stale: map[string]bool{}}
	var errs []error
	for _, p := range paths {
		f, err := c.read(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.files[p] = f
	}
	c.checked = clock.Now()
	return c, errors.Join(errs...)
}

func (c *CRLFiles) read(path string) (crlFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return crlFile{}, fmt.Errorf("crl file %s: %w", path, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return crlFile{}, fmt.Errorf("crl file %s: %w", path, err)
	}
	if st.Size() > MaxCRLFileBytes {
		return crlFile{}, fmt.Errorf("crl file %s is larger than %d bytes", path, MaxCRLFileBytes)
	}
	data := make([]byte, st.Size())
	if _, err := fh.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return crlFile{}, fmt.Errorf("crl file %s: %w", path, err)
	}
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "X509 CRL" {
				ders = append(ders, b.Bytes)
			}
		}
	} else {
		ders = [][]byte{data}
	}
	if len(ders) == 0 {
		return crlFile{}, fmt.Errorf("crl file %s holds no CRL", path)
	}
	f := crlFile{modTime: st.ModTime(), size: st.Size()}
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return crlFile{}, fmt.Errorf("crl file %s, CRL %d: %w", path, i+1, err)
		}
		signed := false
		for _, is := range c.issuers {
			if bytes.Equal(is.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(is) == nil {
				signed = true
				break
			}
		}
		if !signed {
			return crlFile{}, fmt.Errorf("crl file %s, CRL %d: not signed by a trusted CA", path, i+1)
		}
		l := loadedCRL{rawIssuer: crl.RawIssuer, nextUpdate: crl.NextUpdate, serials: map[string]bool{}}
		for _, e := range crl.RevokedCertificateEntries {
			l.serials[e.SerialNumber.Text(16)] = true
		}
		f.crls = append(f.crls, l)
	}
	return f, nil
}

// refresh re-reads the files whose modification time or size changed,
// at most once per interval. Called with c.mu held.
func (c *CRLFiles) refresh(now time.Time) {
	if now.Sub(c.checked) < c.interval {
		return
	}
	c.checked = now
	for _, p := range c.paths {
		st, err := os.Stat(p)
		old, had := c.files[p]
		if err != nil {
			c.log.Error("crl file cannot be read; its previous CRLs stay in force", slog.String("path", p), slog.Any("err", err))
			continue
		}
		if had && st.ModTime().Equal(old.modTime) && st.Size() == old.size {
			continue
		}
		f, err := c.read(p)
		if err != nil {
			c.log.Error("crl file changed but does not load; its previous CRLs stay in force", slog.String("path", p), slog.Any("err", err))
			continue
		}
		c.files[p] = f
		delete(c.stale, p)
		c.log.Info("crl file reloaded", slog.String("path", p))
	}
}

// Reload re-reads every file now, changed or not (SIGHUP). A file that
// does not read or verify keeps the CRLs it had; the error names it.
func (c *CRLFiles) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, p := range c.paths {
		f, err := c.read(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (its previous CRLs stay in force)", err))
			continue
		}
		c.files[p] = f
		delete(c.stale, p)
	}
	c.checked = c.clock.Now()
	return errors.Join(errs...)
}

// CheckCertificate implements CertificateChecker.
func (c *CRLFiles) CheckCertificate(_ context.Context, cert, _ *x509.Certificate) error {
	now := c.clock.Now()
	serial := cert.SerialNumber.Text(16)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh(now)
	for _, p := range c.paths {
		for _, l := range c.files[p].crls {
			if !bytes.Equal(l.rawIssuer, cert.RawIssuer) {
				continue
			}
			if !l.nextUpdate.IsZero() && now.After(l.nextUpdate) && !c.stale[p] {
				c.stale[p] = true
				c.log.Warn("crl is past its nextUpdate; it still revokes what it lists", slog.String("path", p))
			}
			if l.serials[serial] {
				return fail(CodeFailedAuthentication, "certificate is revoked (CRL)")
			}
		}
	}
	return nil
}
