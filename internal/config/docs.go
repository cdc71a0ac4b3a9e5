package config

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// SectionDocs names the document whose tables describe each section of
// the configuration; top-level keys (and the small tls, replay and
// auth_failures sections) are in README.md.
var SectionDocs = map[string]string{
	"tpv": "docs/tpv-signature.md", "oauth2": "docs/oauth2.md", "m2m": "docs/m2m.md", "ca": "docs/ca.md",
	"taap": "docs/taap.md", "apstrata": "docs/apstrata.md", "subscriptions": "docs/subscriptions.md",
	"identities": "docs/identities.md", "gateway": "docs/gateway.md", "console": "docs/console.md",
}

// KeyDocs finds a key's row in the documentation tables, by the rule
// internal/doctest enforces: a `token` naming the key in a table row of
// its section's document, or of README.md with the section named.
type KeyDocs struct {
	rows map[string][]string // document -> its table rows
}

// NewKeyDocs reads README.md and every document of SectionDocs from fsys
// (the repository root).
func NewKeyDocs(fsys fs.FS) (*KeyDocs, error) {
	d := &KeyDocs{rows: map[string][]string{}}
	docs := []string{"README.md"}
	for _, doc := range SectionDocs {
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		b, err := fs.ReadFile(fsys, doc)
		if err != nil {
			return nil, fmt.Errorf("documentation: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "|") && !strings.HasPrefix(l, "|---") {
				d.rows[doc] = append(d.rows[doc], l)
			}
		}
	}
	return d, nil
}

// Patterns returns, per document, the pattern of a table token that names
// the key at path (dotted, list elements' keys under the list's path).
func Patterns(path string) map[string]*regexp.Regexp {
	parts := strings.Split(path, ".")
	leaf := regexp.QuoteMeta(parts[len(parts)-1])
	// Ending in .leaf (or being it), with the parent in it when the key is
	// nested deeper than a section ("{ta,pe}.partners[].name").
	tok := "`([^`\\s|]*\\.)?" + leaf + "`"
	if len(parts) > 2 {
		tok = "`[^`\\s|]*" + regexp.QuoteMeta(parts[len(parts)-2]) + "[^`\\s|]*\\." + leaf + "`"
	}
	want := map[string]*regexp.Regexp{}
	if d, ok := SectionDocs[parts[0]]; ok && len(parts) > 1 {
		want[d] = regexp.MustCompile(tok)
		want["README.md"] = regexp.MustCompile("`" + regexp.QuoteMeta(parts[0]) + "\\.[^`\\s|]*" + leaf + "`")
	} else {
		want["README.md"] = regexp.MustCompile(tok)
	}
	return want
}

// Meaning returns the document and the last cell of the row describing
// the key at path, preferring a row whose first cell starts with keys and
// names it; doc is "" when no row does, meaning is "" also when the
// row's last cell is empty.
func (d *KeyDocs) Meaning(path string) (doc, meaning string) {
	pats := Patterns(path)
	order := []string{"README.md"}
	if s, ok := SectionDocs[strings.Split(path, ".")[0]]; ok {
		order = []string{s, "README.md"}
	}
	for _, firstCellOnly := range []bool{true, false} {
		for _, doc := range order {
			re, ok := pats[doc]
			if !ok {
				continue
			}
			for _, row := range d.rows[doc] {
				cells := strings.Split(strings.Trim(row, "|"), "|")
				if len(cells) < 2 {
					continue
				}
				where := row
				if firstCellOnly {
					// A row defining keys starts with them.
					if where = strings.TrimSpace(cells[0]); !strings.HasPrefix(where, "`") {
						continue
					}
				}
				if re.MatchString(where) {
					return doc, plain(cells[len(cells)-1])
				}
			}
		}
	}
	return "", ""
}

var linkRE = regexp.MustCompile(`\[([^\]]*)\]\(([^)]*)\)`)

// plain turns a Markdown table cell into comment text.
func plain(s string) string {
	s = linkRE.ReplaceAllStringFunc(s, func(l string) string {
		m := linkRE.FindStringSubmatch(l)
		if m[1] == m[2] || strings.Trim(m[1], "`") == m[2] {
			return m[2]
		}
		return m[1] + " (" + m[2] + ")"
	})
	s = strings.NewReplacer("`", "", "**", "", "<br>", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}
