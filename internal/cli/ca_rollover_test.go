package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestCARolloverCLI: `ca init` on an initialised CA names `ca rollover`
// and fails; rollover keeps the previous generation (cacert, CRLs by
// NAME@GENERATION) until `ca retire-previous`.
func TestCARolloverCLI(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	runCLI(t, append(data, "ca", "init", "--algorithm", "ecdsa")...)
	code, _, msg := runCLIBoth(append(data, "ca", "init")...)
	if code != exitConflict || !strings.Contains(msg, "authgate ca rollover") {
		t.Fatalf("init on an initialised CA: exit %d: %s", code, msg)
	}
	if n := bytes.Count(runCLI(t, append(data, "ca", "cacert")...), []byte("BEGIN CERTIFICATE")); n != 4 {
		t.Fatalf("cacert before rollover: %d certificates", n)
	}
	root := runCLI(t, append(data, "ca", "rollover")...)
	if !bytes.Contains(root, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("rollover printed %q", root)
	}
	if n := bytes.Count(runCLI(t, append(data, "ca", "cacert")...), []byte("BEGIN CERTIFICATE")); n != 8 {
		t.Fatalf("cacert after rollover: %d certificates, want both generations", n)
	}
	for _, name := range []string{"device@1", "m2m-ta@1", "legacy@1", "device", "device@2"} {
		if crl := runCLI(t, append(data, "ca", "crl", "--ca", name)...); !bytes.Contains(crl, []byte("BEGIN X509 CRL")) {
			t.Errorf("crl --ca %s: %q", name, crl)
		}
	}
	if code, _, msg := runCLIBoth(append(data, "ca", "rollover")...); code != exitConflict || !strings.Contains(msg, "retire-previous") {
		t.Fatalf("second rollover: exit %d: %s", code, msg)
	}
	if out := string(runCLI(t, append(data, "ca", "retire-previous")...)); !strings.Contains(out, "retired") {
		t.Fatalf("retire-previous: %s", out)
	}
	if n := bytes.Count(runCLI(t, append(data, "ca", "cacert")...), []byte("BEGIN CERTIFICATE")); n != 4 {
		t.Fatalf("cacert after retirement: %d certificates", n)
	}
	if code, _, _ := runCLIBoth(append(data, "ca", "crl", "--ca", "device@1")...); code != exitNotFound {
		t.Fatalf("CRL of the retired generation: exit %d", code)
	}
}
