package fuzz

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoStoreLinked keeps this package's test binary free of the store
// drivers: were one linked (say through a test helper that opens a store),
// every fuzz target here would slow down to a few inputs a minute (see the
// package comment).
func TestNoStoreLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-test", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
	for _, p := range deps {
		for _, heavy := range []string{"modernc.org/sqlite", "github.com/jackc/pgx"} {
			if strings.HasPrefix(p, heavy) {
				t.Errorf("the fuzz test binary links %s: keep store-backed helpers out of this package", p)
			}
		}
	}
}
