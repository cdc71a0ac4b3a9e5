package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// markdownFiles are README.md and docs/*.md.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("docs/*.md: %v (%d files)", err, len(files))
	}
	return append(files, filepath.Join(repoRoot, "README.md"))
}

// iccidLike is anything a reader may copy as an ICCID: 89 and at least
// 15 more digits, with any letters or digits that follow (a placeholder
// such as ...012X is copied as it stands). "8949..." is visibly elided.
var iccidLike = regexp.MustCompile(`\b89[0-9]{15,}[0-9A-Za-z]*`)

// TestDocsICCIDsPassLuhn: every ICCID the documents show is one the
// server accepts (taap.ValidICCID: 19-20 digits, 89..., Luhn).
func TestDocsICCIDsPassLuhn(t *testing.T) {
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range iccidLike.FindAllString(string(b), -1) {
			if err := taap.ValidICCID(id); err != nil {
				t.Errorf("%s: ICCID %s: %v", filepath.Base(f), id, err)
			}
		}
	}
}
