package family

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/scheme"
)

// fakeScheme is a scheme that only has a name and a family.
type fakeScheme struct{ name, family string }

var _ scheme.Scheme = fakeScheme{}

func (f fakeScheme) Name() string                                         { return f.name }
func (f fakeScheme) Family() string                                       { return f.family }
func (fakeScheme) Presented(*http.Request) bool                           { return false }
func (fakeScheme) NeedsBody(*http.Request) bool                           { return false }
func (fakeScheme) StripCredentials(_ *http.Request, b []byte) []byte      { return b }
func (fakeScheme) WriteRefusal(http.ResponseWriter, *http.Request, error) {}
func (fakeScheme) Authenticate(context.Context, scheme.Request) (scheme.Caller, error) {
	return scheme.Caller{}, nil
}

func on(*config.Config) bool  { return true }
func off(*config.Config) bool { return false }

// fam is a family building the given schemes and recording what it saw.
func fam(name string, enabled func(*config.Config) bool, seen *[]string, schemes ...scheme.Scheme) Family {
	var declared []string
	for _, s := range schemes {
		declared = append(declared, s.Name())
	}
	return Family{Name: name, Section: name, Enabled: enabled, Schemes: declared, Build: func(_ context.Context, d Deps) (Parts, error) {
		for n := range d.Schemes {
			*seen = append(*seen, name+" sees "+n)
		}
		d.Schemes["intruder"] = fakeScheme{"intruder", name} // must not reach the result
		return Parts{Schemes: schemes}, nil
	}}
}

func TestBuildCollectsEnabledFamiliesSchemes(t *testing.T) {
	var seen []string
	l := List{
		fam("a", on, &seen, fakeScheme{"a-1", "a"}, fakeScheme{"a-2", "a"}),
		fam("b", off, &seen, fakeScheme{"b-1", "b"}),
		fam("c", on, &seen, fakeScheme{"c-1", "c"}),
	}
	b, err := l.Build(context.Background(), Deps{Config: &config.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Families, ","); got != "a,c" {
		t.Errorf("built %s, want a,c", got)
	}
	if len(b.Set) != 3 || b.Set["a-1"] == nil || b.Set["a-2"] == nil || b.Set["c-1"] == nil {
		t.Errorf("set %v", b.Set)
	}
	if len(b.Schemes) != 3 {
		t.Errorf("schemes %v", b.Schemes)
	}
	// c sees a's schemes (built before it), a sees none; neither sees what the other added.
	want := map[string]bool{"c sees a-1": true, "c sees a-2": true}
	if len(seen) != len(want) {
		t.Errorf("seen %v, want %v", seen, want)
	}
	for _, s := range seen {
		if !want[s] {
			t.Errorf("unexpected %q", s)
		}
	}
}

func TestBuildRefusesMisnamedSchemes(t *testing.T) {
	var seen []string
	for name, l := range map[string]List{
		"scheme of another family": {fam("a", on, &seen, fakeScheme{"x", "b"})},
		"scheme name twice":        {fam("a", on, &seen, fakeScheme{"x", "a"}), fam("b", on, &seen, fakeScheme{"x", "b"})},
		"undeclared scheme":        {{Name: "a", Section: "a", Enabled: on, Build: fam("a", on, &seen, fakeScheme{"x", "a"}).Build}},
		"family twice":             {fam("a", on, &seen), fam("a", on, &seen)},
		"no section":               {{Name: "a", Enabled: on, Build: fam("a", on, &seen).Build}},
		"section twice":            {{Name: "a", Section: "s", Enabled: on, Build: fam("a", on, &seen).Build}, {Name: "b", Section: "s", Enabled: on, Build: fam("b", on, &seen).Build}},
		"no build":                 {{Name: "a", Section: "a", Enabled: on}},
		"no name":                  {{Section: "a", Enabled: on, Build: fam("a", on, &seen).Build}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := l.Build(context.Background(), Deps{Config: &config.Config{}}); err == nil {
				t.Fatal("built")
			}
		})
	}
}

func TestLookupAndNames(t *testing.T) {
	var seen []string
	l := List{fam("a", on, &seen), fam("b", off, &seen)}
	if got := strings.Join(List{fam("a", on, &seen, fakeScheme{"a-1", "a"}), fam("b", off, &seen, fakeScheme{"b-1", "b"})}.SchemeNames(), ","); got != "a-1,b-1" {
		t.Errorf("scheme names %s", got)
	}
	if got := strings.Join(l.Names(), ","); got != "a,b" {
		t.Errorf("names %s", got)
	}
	if f, ok := l.Lookup("b"); !ok || f.Name != "b" {
		t.Errorf("lookup b: %v %v", f.Name, ok)
	}
	if _, ok := l.Lookup("z"); ok {
		t.Error("found z")
	}
	if got := l.Enabled(&config.Config{}).Names(); len(got) != 1 || got[0] != "a" {
		t.Errorf("enabled %v", got)
	}
}
