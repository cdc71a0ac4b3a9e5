package scheme_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAdaptersImportNoSibling keeps the direction of imports: a protocol
// adapter (internal/protocol/<family>/...) imports the core, this package
// and shared infrastructure, never another adapter; and the core and this
// package import no adapter at all. Test files are not checked: an
// adapter's end-to-end tests may run a sibling (e.g. an OAuth2 issuer for
// an admin token).
func TestAdaptersImportNoSibling(t *testing.T) {
	const mod = "github.com/authgate/authgate/"
	const adapters = mod + "internal/protocol/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list printed %d packages", len(lines))
	}
	family := func(pkg string) string {
		rest, ok := strings.CutPrefix(pkg, adapters)
		if !ok {
			return ""
		}
		f, _, _ := strings.Cut(rest, "/")
		return f
	}
	seen := 0
	for _, l := range lines {
		fields := strings.Fields(l)
		pkg, imports := fields[0], fields[1:]
		own := family(pkg)
		neutral := pkg == mod+"internal/core" || strings.HasPrefix(pkg, mod+"internal/core/") || pkg == mod+"internal/scheme"
		if own == "" && !neutral {
			continue
		}
		seen++
		for _, imp := range imports {
			if f := family(imp); f != "" && f != own {
				t.Errorf("%s imports the adapter %s", pkg, imp)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("checked %d packages: the adapters were not listed", seen)
	}
}
