package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// goldenRSAKeys are two client public keys (PEM) and their key ids,
// generated once per test binary.
var goldenRSAKeys = sync.OnceValues(func() ([][]byte, error) {
	out := make([][]byte, 2)
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return nil, err
		}
		out[i] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	return out, nil
})

// writeClientKeys writes {dir}/key1.pem and key2.pem and saves the second's key id as kid.
func writeClientKeys(t *testing.T, vars map[string]string) {
	t.Helper()
	keys, err := goldenRSAKeys()
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if err := os.WriteFile(filepath.Join(vars["dir"], "key"+string(rune('1'+i))+".pem"), k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pk, err := taap.ParsePublicKey(keys[1])
	if err != nil {
		t.Fatal(err)
	}
	vars["kid"] = taap.Thumbprint(pk)
}

// taapTPVSteps are the lifecycle of every TAAP and TPV object from the
// command line: create, list, get, delete (or revoke).
var taapTPVSteps = []goldenStep{
	{args: []string{"admin", "org", "create", "--name", "acme"}, save: map[string]string{"org": "id"}, after: writeClientKeys},
	{args: []string{"taap", "client", "create", "--org", "{org}", "--name", "sensor-gw", "--scope", "iot-connectivity", "--public-key", "{dir}/key1.pem"}, save: map[string]string{"client": "client_id"}},
	{args: []string{"taap", "client", "list"}},
	{args: []string{"taap", "client", "get", "{client}"}},
	{args: []string{"taap", "client", "key", "create", "--client", "{client}", "--public-key", "{dir}/key2.pem"}},
	{args: []string{"taap", "client", "key", "list", "--client", "{client}"}},
	{args: []string{"taap", "client", "key", "get", "--client", "{client}", "--", "{kid}"}},
	{args: []string{"taap", "client", "key", "revoke", "--client", "{client}", "--", "{kid}"}},
	{args: []string{"taap", "client", "key", "list", "--client", "{client}", "--include-revoked"}},
	{args: []string{"taap", "sim", "create", "--org", "{org}", "--iccid", "89012601234567890121", "--msisdn", "+14255550100", "--label", "kit"}},
	{args: []string{"taap", "sim", "list", "--org", "{org}"}},
	{args: []string{"taap", "sim", "get", "89012601234567890121"}},
	{args: []string{"taap", "sim", "delete", "89012601234567890121"}},
	{args: []string{"taap", "client", "delete", "{client}"}},
	{args: []string{"tpv", "brand", "create", "--org", "{org}", "--name", "Acme Energy", "--product", "555=Fixed 12 months"}, save: map[string]string{"brand": "brand_id"}},
	{args: []string{"tpv", "brand", "list", "--org", "{org}"}},
	{args: []string{"tpv", "brand", "get", "{brand}"}},
	{args: []string{"tpv", "brand", "product", "create", "--brand", "{brand}", "--code", "FIX-24", "--name", "Fixed 24 months"}},
	{args: []string{"tpv", "brand", "product", "list", "--brand", "{brand}"}},
	{args: []string{"tpv", "brand", "product", "get", "555", "--brand", "{brand}"}},
	{args: []string{"tpv", "brand", "product", "delete", "555", "--brand", "{brand}"}},
	{args: []string{"tpv", "brand", "delete", "{brand}"}},
}

// TestGoldenTAAPTPV pins what the TAAP and TPV lifecycle commands print,
// in -o json and -o table (testdata/golden/taap_tpv.<format>.golden).
func TestGoldenTAAPTPV(t *testing.T) {
	runGolden(t, "taap_tpv", taapTPVSteps)
}

// TestTAAPTPVExitCodes: the lifecycle commands exit 3 for an object that
// does not exist (or was deleted), 2 for a malformed id or usage, 5 for
// a conflict; nothing is written on stdout for a failure.
func TestTAAPTPVExitCodes(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLIExit(t, append(args, data...)...)
	}
	code, out, errOut := run("tpv", "brand", "create", "--name", "Exit Brand", "-o", "json")
	if code != 0 {
		t.Fatalf("create brand: %d %s", code, errOut)
	}
	brand := outputValue(outputJSON, out, "brand_id")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"taap", "client", "get", "nope"}, exitNotFound},
		{[]string{"taap", "client", "delete", strings.Repeat("x", 4096)}, exitNotFound},
		{[]string{"taap", "client", "key", "list", "--client", "nope"}, exitNotFound},
		{[]string{"taap", "client", "key", "revoke", "kid"}, exitUsage}, // --client missing
		{[]string{"taap", "sim", "get", "89012601234567890121"}, exitNotFound},
		{[]string{"taap", "sim", "get", "89012601234567890122"}, exitUsage}, // Luhn
		{[]string{"taap", "sim", "delete", "12345"}, exitUsage},
		{[]string{"taap", "sim", "create", "--org", "nope", "--iccid", "89012601234567890121"}, exitNotFound},
		{[]string{"tpv", "brand", "get", "nope"}, exitNotFound},
		{[]string{"tpv", "brand", "product", "get", "55 5", "--brand", brand}, exitUsage},
		{[]string{"tpv", "brand", "product", "delete", "556", "--brand", brand}, exitNotFound},
		{[]string{"tpv", "brand", "create", "--name", "x", "--product", "bad code=x"}, exitUsage},
		{[]string{"tpv", "brand", "delete", brand}, exitOK},
		{[]string{"tpv", "brand", "delete", brand}, exitNotFound},
		{[]string{"tpv", "brand", "product", "list", "--brand", brand}, exitNotFound},
	} {
		code, out, errOut := run(tc.args...)
		if code != tc.want || code != exitOK && out != "" {
			t.Errorf("authgate %.80s: exit %d (stdout %q, stderr %q), want %d", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}
