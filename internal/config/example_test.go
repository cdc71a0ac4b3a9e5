package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate"
	"github.com/authgate/authgate/internal/protocol/m2m"
)

func exampleDocs(t *testing.T) *KeyDocs {
	t.Helper()
	d, err := NewKeyDocs(authgate.Docs) // what the binary embeds
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestExampleLoadsBackToDefaults: the example names every key, with its
// default: loaded into an empty Config (unknown keys refused) it gives
// Default() again, and it validates.
func TestExampleLoadsBackToDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(file, Example(exampleDocs(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	got, _ := yaml.Marshal(c) // nil and empty lists both marshal as []
	want, _ := yaml.Marshal(Default())
	if string(got) != string(want) {
		t.Fatalf("example loads to\n%s\nwant the defaults\n%s", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	// Every value was set by the file: a zero Config with one key removed differs.
	b, _ := os.ReadFile(file)
	cut := strings.Replace(string(b), "\nlisten: ", "\n# listen: ", 1)
	if err := os.WriteFile(file, []byte(cut), 0o600); err != nil {
		t.Fatal(err)
	}
	var partial Config
	if err := partial.LoadFile(file); err != nil || partial.Listen != "" {
		t.Fatalf("listen read from a commented line? %q %v", partial.Listen, err)
	}
}

// TestExampleHasEveryKeyAndItsDocumentation: each key of Keys() has its
// line (list elements' keys in the commented element), and the doc row
// that describes it is found, its meaning written above the key.
func TestExampleHasEveryKeyAndItsDocumentation(t *testing.T) {
	docs := exampleDocs(t)
	ex := string(Example(docs))
	lines := strings.Split(ex, "\n")
	keys := Keys()
	if len(keys) < 100 {
		t.Fatalf("only %d keys", len(keys))
	}
	pos := 0 // keys appear in declaration order
	for _, k := range keys {
		name := k.Path[strings.LastIndex(k.Path, ".")+1:]
		found := -1
		for i := pos; i < len(lines); i++ {
			l := strings.TrimLeft(strings.TrimSpace(lines[i]), "#- ")
			if strings.HasPrefix(l, name+":") {
				found = i
				break
			}
		}
		if found < 0 {
			t.Errorf("key %s missing from the example (after line %d)", k.Path, pos+1)
			continue
		}
		pos = found
		if k.Section || k.List {
			continue
		}
		doc, meaning := docs.Meaning(k.Path)
		if doc == "" {
			t.Errorf("key %s: no documentation row found", k.Path)
			continue
		}
		if above := commentAbove(lines, found); meaning != "" && !strings.Contains(above, meaning) {
			t.Errorf("key %s: its meaning %q is not written above it (%q)", k.Path, meaning, above)
		}
	}
}

// commentAbove joins the comment lines right above lines[i] (in a
// commented-out list element too).
func commentAbove(lines []string, i int) string {
	var text []string
	for j := i - 1; j >= 0; j-- {
		l := strings.TrimSpace(lines[j])
		if strings.HasPrefix(l, "#   ") { // inside a commented-out list element
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l[1:]), "- "))
		}
		c, ok := strings.CutPrefix(l, "# ")
		if !ok {
			break
		}
		text = append([]string{c}, text...)
	}
	return strings.Join(text, " ")
}

// TestKeysAreWhatTheLoaderSets: every key Keys() names with an
// environment variable is set by that variable, so the table and the
// loader are the same thing.
func TestKeysAreWhatTheLoaderSets(t *testing.T) {
	for _, k := range Keys() {
		if k.Section || k.Env == "" {
			continue
		}
		c := Default()
		var raw string
		switch {
		case k.Type == durationType:
			raw = "7s"
		case k.Type.Kind() == reflect.Bool:
			raw = "true"
			if fieldByPath(reflect.ValueOf(&c).Elem(), k.Path).Bool() {
				raw = "false"
			}
		case k.Type.Kind() == reflect.String:
			raw = "set-by-env"
		case k.Type.Kind() == reflect.Slice:
			raw = "a,b"
		default:
			raw = "7"
		}
		before := fieldByPath(reflect.ValueOf(&c).Elem(), k.Path).Interface()
		if err := c.LoadEnv([]string{k.Env + "=" + raw}); err != nil {
			t.Errorf("%s: %v", k.Env, err)
			continue
		}
		if after := fieldByPath(reflect.ValueOf(&c).Elem(), k.Path).Interface(); reflect.DeepEqual(before, after) {
			t.Errorf("%s=%s did not change %s", k.Env, raw, k.Path)
		}
	}
}

// TestUnknownKeysNamedWithTheNearest: a misspelt YAML key or AUTHGATE_*
// variable is refused with its full path and the nearest known name.
func TestUnknownKeysNamedWithTheNearest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	yml := "listn: 127.0.0.1:1\nm2m:\n  ta:\n    partners:\n      - name: p\n        adm_cl_ur: https://x\ntaap:\n  zzzzzzzzzz: 1\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	err := c.LoadFile(file)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{"line 1: unknown key listn (did you mean listen?)",
		"line 6: unknown key m2m.ta.partners[0].adm_cl_ur (did you mean m2m.ta.partners[0].adm_cl_url?)",
		"line 8: unknown key taap.zzzzzzzzzz\n"} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c = Default()
	err = c.LoadEnv([]string{"AUTHGATE_TLS_CRT=x", "AUTHGATE_QQQQQQQQQQQQ=1"})
	if err == nil || !strings.Contains(err.Error(), "AUTHGATE_TLS_CRT: did you mean AUTHGATE_TLS_CERT?") || strings.Contains(err.Error(), "AUTHGATE_QQQQQQQQQQQQ: did") {
		t.Fatalf("env suggestion: %v", err)
	}
}

// TestChanged names exactly the keys that differ, a list of sections as
// one key, nil and empty lists as equal.
func TestChanged(t *testing.T) {
	a, b := Default(), Default()
	b.LogLevel = "debug"
	b.TAAP.ClockSkew = 3 * time.Second
	b.M2M.TA.Partners = []m2m.PartnerConfig{{Name: "acme"}}
	a.TrustedProxies, b.TrustedProxies = nil, []string{}
	got := strings.Join(Changed(a, b), " ")
	if want := "log_level m2m.ta.partners taap.clock_skew"; got != want {
		t.Fatalf("Changed = %q, want %q", got, want)
	}
	if c := Changed(a, a); len(c) != 0 {
		t.Fatalf("Changed(a, a) = %v", c)
	}
}
