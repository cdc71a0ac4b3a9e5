package doctest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
)

// configKeys lists every yaml key of t as dotted paths (lists of
// structs, like m2m.ta.partners, contribute their element's keys).
func configKeys(t *testing.T, typ reflect.Type, prefix string) []string {
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			t.Errorf("%s%s has no yaml tag: its key would be guessed", prefix, f.Name)
			continue
		}
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			keys = append(keys, configKeys(t, ft, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

// TestConfigKeysDocumented: every key of every section (read by
// reflection from internal/config and each family's Config, so a new
// option cannot slip by) is named in a table row: top-level keys in
// README.md (`key`, `parent.key`, or `.key` after a first one), section
// keys in the section's document (or in README with the section named).
func TestConfigKeysDocumented(t *testing.T) {
	tables := map[string]string{} // document -> its table rows
	read := func(doc string) string {
		if s, ok := tables[doc]; ok {
			return s
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "|") {
				rows = append(rows, l)
			}
		}
		tables[doc] = strings.Join(rows, "\n")
		return tables[doc]
	}
	keys := configKeys(t, reflect.TypeOf(config.Config{}), "")
	if len(keys) < 100 {
		t.Fatalf("found only %d configuration keys: %v", len(keys), keys)
	}
	for _, key := range keys {
		want := config.Patterns(key)
		found := false
		var docs []string
		for d, re := range want {
			docs = append(docs, d)
			if re.MatchString(read(d)) {
				found = true
			}
		}
		slices.Sort(docs)
		if !found {
			t.Errorf("configuration key %s is in no table of %s", key, strings.Join(docs, " or "))
		}
	}
}
