package wssec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// RequireXMLSec1 finds xmlsec1, skipping only outside full CI runs.
func requireXMLSec1(t *testing.T) string {
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

// TestXMLSec1VerifiesSigner: the xmlsec1 command line tool (libxmlsec1,
// written by nobody here) verifies what the Signer produces, given the
// signing certificate and the CA; and it refuses a tampered copy.
func TestXMLSec1VerifiesSigner(t *testing.T) {
	bin := requireXMLSec1(t)
	f := newFixture(t)
	dir := t.TempDir()
	certPath, _ := wssectest.WriteFiles(t, dir, "signer", f.cert, nil)
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", f.ca.Cert, nil)
	for _, opt := range []wssec.SignerOptions{{}, {InclusivePrefixes: []string{"soap", "wsse"}}} {
		msg, err := f.signer(t, opt).Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		out, err := XMLSec1Verify(bin, dir, msg, certPath, caPath)
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("xmlsec1 refused the signature (%v):\n%s", err, out)
		}
		t.Logf("xmlsec1: %s", strings.TrimSpace(string(out)))
	}
	bad := []byte(string(f.sign(t)))
	bad = []byte(replaceOnce(string(bad), "8949020000000000001", "8949020000000000009"))
	out, err := XMLSec1Verify(bin, dir, bad, certPath, caPath)
	if err == nil || !strings.Contains(string(out), "FAIL") {
		t.Fatalf("xmlsec1 accepted a tampered body:\n%s", out)
	}
}

func replaceOnce(s, old, repl string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + repl + s[i+len(old):]
		}
	}
	return s
}

// XMLSec1Verify runs `xmlsec1 --verify` on msg, declaring wsu:Id as the Id
// attribute of soap:Body and wsu:Timestamp and loading the certificate.
func XMLSec1Verify(bin, dir string, msg []byte, certPath, caPath string) ([]byte, error) {
	f := filepath.Join(dir, "msg.xml")
	if err := os.WriteFile(f, msg, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--verify",
		"--id-attr:Id", wssec.NSSOAP11+":Body",
		"--id-attr:Id", wssec.NSWSU+":Timestamp",
		"--pubkey-cert-pem", certPath, "--trusted-pem", caPath,
		"--enabled-reference-uris", "same-doc",
		f)
	return cmd.CombinedOutput()
}
