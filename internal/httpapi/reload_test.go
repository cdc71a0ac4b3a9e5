package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/httpapi"
)

// writePair writes a self-signed certificate valid until notAfter.
func writePair(t *testing.T, dir, name string, serial int64, notAfter time.Time) [2]string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	p := [2]string{filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")}
	if err := os.WriteFile(p[0], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p[1], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyPair(t *testing.T, from, to [2]string) {
	t.Helper()
	for i := range from {
		b, err := os.ReadFile(from[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to[i], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCertFilesReload: Reload serves the new pair to new handshakes and
// keeps the current one when the new pair does not load, does not match,
// has expired, or fails the added check.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	live := writePair(t, dir, "live", 1, now.Add(24*time.Hour))
	c, err := httpapi.LoadCertFiles(live[0], live[1], func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		got, err := c.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := x509.ParseCertificate(got.Certificate[0])
		return x.SerialNumber.Int64()
	}
	copyPair(t, writePair(t, dir, "second", 2, now.Add(24*time.Hour)), live)
	if serial() != 1 {
		t.Fatal("the files were read before Reload")
	}
	if err := c.Reload(); err != nil || serial() != 2 {
		t.Fatalf("reload: %v, serial %d", err, serial())
	}
	other := writePair(t, dir, "other", 3, now.Add(24*time.Hour))
	refuse := map[string]func(){
		"key of another certificate": func() { copyPair(t, [2]string{other[0], writePair(t, dir, "x", 4, now.Add(time.Hour))[1]}, live) },
		"expired":                    func() { copyPair(t, writePair(t, dir, "old", 5, now.Add(-time.Minute)), live) },
		"not PEM":                    func() { _ = os.WriteFile(live[0], []byte("nothing"), 0o600) },
		"fails the check": func() {
			copyPair(t, other, live)
			c.SetCheck(func(*tls.Certificate) error { return errors.New("shared with the other environment") })
		},
	}
	for name, breakIt := range refuse {
		breakIt()
		if err := c.Reload(); err == nil || !strings.Contains(err.Error(), "previous certificate stays") || serial() != 2 {
			t.Errorf("%s: reload %v, serial %d (want 2 kept)", name, err, serial())
		}
	}
}
