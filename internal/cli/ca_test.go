package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// caOpenSSL runs the real openssl (test.sh installs it; only a partial
// local run may skip) in dir with HOME=dir.
func caOpenSSL(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("openssl is required for the full test run")
		}
		t.Skip("openssl not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// runCLIErr runs authgate expecting failure and returns stderr.
func runCLIErr(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, strings.NewReader(""), &out, &errb); code == 0 {
		t.Fatalf("authgate %v succeeded, want failure", args)
	}
	return errb.String()
}

// TestCACommands: `authgate csr` turns each annex configuration into a key
// and a CSR that `openssl req -verify` accepts and that carries the file's
// subject and extensions; `authgate ca` initialises a CA, signs the CSR by
// profile (openssl verify accepts the result), revokes it and prints a CRL
// that `openssl crl` verifies and that lists the serial.
func TestCACommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir) // the annex files reference $ENV::HOME
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	root := filepath.Join(dir, "root.pem")
	runCLI(t, append(data, "ca", "init", "--algorithm", "rsa", "--bits", "2048", "--out", root)...)
	if msg := runCLIErr(t, append(data, "ca", "init")...); !strings.Contains(msg, "already initialised") {
		t.Errorf("second init: %s", msg)
	}
	chain := filepath.Join(dir, "cacerts.pem")
	if err := os.WriteFile(chain, runCLI(t, append(data, "ca", "cacert")...), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct{ file, profile, env, purpose, ou string }{
		{"1_sign_SampleOrg_TA.cnf", "signing", "TA", "sslclient", "M2M_TA"},
		{"2_ssl_SampleOrg_TA.cnf", "ssl-server", "TA", "sslserver", "M2M_TA"},
		{"3_sign_SampleOrg_PE.cnf", "signing", "PE", "sslclient", "M2M"},
		{"4_ssl_SampleOrg_PE.cnf", "ssl-server", "PE", "sslserver", "M2M"},
	}
	var serials []string
	for _, c := range cases {
		cfg, err := filepath.Abs(filepath.Join("..", "ca", "testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(dir, c.file+".key")
		csr := filepath.Join(dir, c.file+".csr")
		runCLI(t, "csr", "--config", cfg, "--key-out", key, "--csr-out", csr)
		if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", err, st)
		}
		out := caOpenSSL(t, dir, "req", "-in", csr, "-verify", "-noout", "-text")
		if !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl req -verify:\n%s", out)
		}
		for _, want := range []string{
			"Subject: C = DE, ST = North-Rhine-Westfalia, L = Bonn, O = Sample Organization S.E., OU = " + c.ou,
			"Public-Key: (2048 bit)", "Requested Extensions:", "X509v3 Subject Key Identifier", "Netscape Comment",
			"sha256WithRSAEncryption",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: CSR text lacks %q:\n%s", c.file, want, out)
			}
		}
		// The key pairs with the CSR: same modulus per openssl.
		if a, b := caOpenSSL(t, dir, "rsa", "-in", key, "-noout", "-modulus"), caOpenSSL(t, dir, "req", "-in", csr, "-noout", "-modulus"); a != b {
			t.Errorf("key and CSR moduli differ")
		}
		// A key is never overwritten silently.
		if msg := runCLIErr(t, "csr", "--config", cfg, "--key-out", key, "--csr-out", csr); !strings.Contains(msg, "exists") {
			t.Errorf("overwrite: %s", msg)
		}

		cert := filepath.Join(dir, c.file+".pem")
		runCLI(t, append(data, "ca", "sign", "--profile", c.profile, "--env", c.env, "--days", "730", "--out", cert, csr)...)
		out = caOpenSSL(t, dir, "verify", "-CAfile", root, "-untrusted", chain, "-purpose", c.purpose, cert)
		if !strings.Contains(out, ": OK") {
			t.Fatalf("openssl verify: %s", out)
		}
		m := regexp.MustCompile(`serial=([0-9A-F]+)`).FindStringSubmatch(caOpenSSL(t, dir, "x509", "-in", cert, "-noout", "-serial"))
		serials = append(serials, m[1])
		// The other environment's OU is refused.
		other := map[string]string{"TA": "PE", "PE": "TA"}[c.env]
		if msg := runCLIErr(t, append(data, "ca", "sign", "--profile", c.profile, "--env", other, csr)...); !strings.Contains(msg, "OU must be") {
			t.Errorf("wrong environment: %s", msg)
		}
	}

	runCLI(t, append(data, "ca", "revoke", serials[0], "--reason", "keyCompromise")...)
	list := string(runCLI(t, append(data, "ca", "list")...))
	if strings.Count(list, "revoked (keyCompromise)") != 1 || strings.Count(list, "valid") != 3 || strings.Count(list, " m2m-ta@1 ") != 2 || strings.Count(list, " m2m-pe@1 ") != 2 {
		t.Errorf("list:\n%s", list)
	}
	crl := filepath.Join(dir, "crl.pem")
	runCLI(t, append(data, "ca", "crl", "--ca", "m2m-ta", "--out", crl)...)
	out := caOpenSSL(t, dir, "crl", "-in", crl, "-noout", "-text", "-CAfile", chain)
	if !strings.Contains(out, "verify OK") || !strings.Contains(out, serials[0]) || strings.Contains(out, serials[1]) {
		t.Errorf("openssl crl:\n%s", out)
	}
	der := runCLI(t, append(data, "ca", "crl", "--format", "der")...)
	if len(der) == 0 || der[0] != 0x30 {
		t.Error("DER CRL expected")
	}
	// A device certificate is not issued from the command line: its
	// subject is authgate's, made when POST /identities/certificates
	// creates the device.
	if msg := runCLIErr(t, append(data, "ca", "sign", "--profile", "device", filepath.Join(dir, cases[0].file+".csr"))...); !strings.Contains(msg, "/identities/certificates") {
		t.Errorf("device from the CLI: %s", msg)
	}
	// `ca cacert --ca m2m-ta` is what m2m.ta.trusted_cas takes: the TA
	// partner certificate chains to it directly.
	taCA := filepath.Join(dir, "m2m-ta.pem")
	if err := os.WriteFile(taCA, runCLI(t, append(data, "ca", "cacert", "--ca", "m2m-ta")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := caOpenSSL(t, dir, "verify", "-partial_chain", "-CAfile", taCA, "-purpose", "sslclient", filepath.Join(dir, cases[0].file+".pem")); !strings.Contains(out, ": OK") {
		t.Errorf("TA certificate under the TA issuing CA: %s", out)
	}
	pePEM, _ := os.ReadFile(filepath.Join(dir, cases[2].file+".pem"))
	taPEM, _ := os.ReadFile(taCA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(taPEM)
	blk, _ := pem.Decode(pePEM)
	peCert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peCert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("PE certificate verified under the TA issuing CA")
	}
}

func TestCSRCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small.cnf", "[ req ]\ndefault_bits = 1024\nprompt = no\ndistinguished_name = dn\n[ dn ]\nCN = x\n")
	if msg := runCLIErr(t, "csr", "--config", small, "--key-out", filepath.Join(dir, "k")); !strings.Contains(msg, "2048") {
		t.Errorf("1024 bits: %s", msg)
	}
	nokey := write("nokey.cnf", "[ req ]\nprompt = no\ndistinguished_name = dn\n[ dn ]\nCN = x\n")
	if msg := runCLIErr(t, "csr", "--config", nokey); !strings.Contains(msg, "default_keyfile") {
		t.Errorf("no key file: %s", msg)
	}
	bad := write("bad.cnf", "[ req\n")
	if msg := runCLIErr(t, "csr", "--config", bad, "--key-out", filepath.Join(dir, "k")); !strings.Contains(msg, "line 1") {
		t.Errorf("syntax: %s", msg)
	}
	// default_keyfile is honoured, relative to the working directory.
	t.Chdir(dir)
	withKey := write("withkey.cnf", "[ req ]\ndefault_keyfile = auto-key.pem\nprompt = no\ndistinguished_name = dn\n[ dn ]\nCN = x\n")
	out := runCLI(t, "csr", "--config", withKey)
	if !strings.HasPrefix(string(out), "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Errorf("CSR on stdout: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "auto-key.pem")); err != nil {
		t.Error(err)
	}
}
