package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newCA initialises a CA on a fresh SQLite store with a manual clock.
func newCA(t testing.TB, opt InitOptions) (*Authority, core.Services, *core.ManualClock) {
	t.Helper()
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: t0})
	a := New(DefaultConfig(), DepsFrom(svc))
	if _, err := a.Init(context.Background(), opt); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return a, svc, clock
}

// partnerName is the annex's subject for env.
func partnerName(ou, cn string) pkix.Name {
	return pkix.Name{Country: []string{"DE"}, Province: []string{"North-Rhine-Westfalia"}, Locality: []string{"Bonn"},
		Organization: []string{"Sample Organization S.E."}, OrganizationalUnit: []string{ou}, CommonName: cn}
}

// makeCSR makes a PEM CSR with crypto/x509.
func makeCSR(t testing.TB, key crypto.Signer, name pkix.Name, mod func(*x509.CertificateRequest)) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: name}
	if mod != nil {
		mod(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// opensslBin returns the real OpenSSL; test.sh installs it, so only a
// partial local run may skip.
func opensslBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("openssl is required for the full test run (scripts/deps.sh installs it)")
		}
		t.Skip("openssl not installed")
	}
	return p
}

// runOpenSSL runs openssl with HOME set (the annex files read $ENV::HOME).
func runOpenSSL(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(opensslBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslExtensions parses the "X509v3 extensions:" block of
// `openssl x509 -noout -text` into "Name[: critical]" -> value lines.
func opensslExtensions(text string) (map[string]string, string) {
	exts := map[string]string{}
	version := ""
	in := false
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "Version:") {
			version = trimmed
		}
		if trimmed == "X509v3 extensions:" {
			in = true
			continue
		}
		if !in {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent <= 8 && trimmed != "":
			return exts, version
		case indent == 12:
			cur = strings.TrimSuffix(trimmed, ":")
			exts[cur] = ""
		case indent > 12 && cur != "":
			if exts[cur] != "" {
				exts[cur] += " "
			}
			exts[cur] += trimmed
		}
	}
	return exts, version
}
