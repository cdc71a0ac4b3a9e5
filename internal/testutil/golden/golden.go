// Package golden compares test output with golden files under testdata/,
// rewriting them when the test package's -update flag is set.
package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// Assert fails t unless got equals the file at path; with update it
// writes got there instead (creating the directory).
func Assert(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
