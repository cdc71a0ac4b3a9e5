package oauth2_test

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMTLSReload: ReloadMTLS swaps the mTLS listener's certificate for
// new handshakes (SIGHUP does this) and keeps it when the new files do
// not load.
func TestMTLSReload(t *testing.T) {
	w := newIDWorld(t)
	addr := strings.TrimPrefix(w.mtlsURL, "https://")
	served := func() []byte {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only the served certificate is looked at
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	keyFile := strings.TrimSuffix(w.serverCA, ".pem") + ".key"
	before := served()
	newCert, newKey := writeServerCert(t, t.TempDir())
	for from, to := range map[string]string{newCert: w.serverCA, newKey: keyFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(served(), before) {
		t.Fatal("the certificate changed before the reload")
	}
	if err := w.ids.ReloadMTLS(); err != nil {
		t.Fatal(err)
	}
	after := served()
	if bytes.Equal(after, before) {
		t.Fatal("the reload did not swap the certificate")
	}
	if err := os.WriteFile(filepath.Clean(keyFile), []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.ids.ReloadMTLS(); err == nil || !strings.Contains(err.Error(), "previous certificate stays") {
		t.Fatalf("broken key reloaded: %v", err)
	}
	if !bytes.Equal(served(), after) {
		t.Fatal("a failed reload changed the certificate")
	}
}
