// Package phptest finds the PHP interpreter the vendor samples run under
// (Debian's php-cli with php-curl) for tests that drive them.
package phptest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require returns the path of php with the curl extension. Without it the
// test is skipped, except in full CI runs (AUTHGATE_REQUIRE_POSTGRES set),
// where it fails: scripts/deps.sh installs it there.
func Require(t testing.TB) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err == nil {
		var out []byte
		if out, err = exec.Command(php, "-m").Output(); err == nil && !strings.Contains(strings.ToLower(string(out)), "curl") {
			err = os.ErrNotExist
		}
	}
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("php-cli with php-curl is required (scripts/deps.sh installs it): %v", err)
		}
		t.Skip("php-cli/php-curl not installed")
	}
	return php
}
