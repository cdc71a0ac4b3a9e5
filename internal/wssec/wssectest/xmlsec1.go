package wssectest

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireXMLSec1 finds xmlsec1, skipping only outside full CI runs
// (test.sh sets AUTHGATE_REQUIRE_POSTGRES and installs it).
func RequireXMLSec1(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("xmlsec1 is required (scripts/deps.sh installs it): %v", err)
		}
		t.Skip("xmlsec1 not installed")
	}
	return p
}

// XMLSec1Verify runs `xmlsec1 --verify` on msg: wsu:Id is declared the Id
// attribute of soap:Body and wsu:Timestamp, the signer's certificate
// provides the key and ca is the trusted root. It returns xmlsec1's output
// and its exit error.
func XMLSec1Verify(t testing.TB, bin string, msg []byte, signer, ca *x509.Certificate) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	certPath, _ := WriteFiles(t, dir, "signer", signer, nil)
	caPath, _ := WriteFiles(t, dir, "ca", ca, nil)
	f := filepath.Join(dir, "msg.xml")
	if err := os.WriteFile(f, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--verify",
		"--id-attr:Id", "http://schemas.xmlsoap.org/soap/envelope/:Body",
		"--id-attr:Id", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd:Timestamp",
		"--pubkey-cert-pem", certPath, "--trusted-pem", caPath,
		"--enabled-reference-uris", "same-doc",
		f)
	return cmd.CombinedOutput()
}
