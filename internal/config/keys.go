package config

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// Key is one configuration key as the definitions in this package declare
// it: the yaml field of Config (or of a section's Config) that holds it.
// Keys() walks those definitions, so the environment loader, the unknown
// key check and `authgate config example` read one table and a key added
// to any section reaches all three without being listed anywhere.
type Key struct {
	// Path is the dotted yaml path ("tls.cert", "m2m.ta.partners.name";
	// keys of list elements are under the list's path).
	Path string
	// Env is the environment variable that sets the key, "" for keys
	// inside lists (the environment cannot address list elements) and for
	// sections.
	Env string
	// Type is the Go type of the value.
	Type reflect.Type
	// Section: a struct of further keys. List: a list of such structs.
	Section, List bool
	// Depth is how many sections and lists enclose the key.
	Depth int
}

var durationType = reflect.TypeOf(time.Duration(0))

// yamlName is a field's key, "" for fields without one.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// isSection reports whether t is a struct of keys (not a scalar such as a duration).
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != durationType }

// Keys lists every key of Config, sections and lists before their keys, in declaration order.
func Keys() []Key {
	var out []Key
	walkKeys(reflect.TypeOf(Config{}), "", "AUTHGATE", 0, &out)
	return out
}

func walkKeys(t reflect.Type, path, env string, depth int, out *[]Key) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		k := Key{Path: path + name, Type: f.Type, Depth: depth}
		if env != "" {
			k.Env = env + "_" + strings.ToUpper(name)
		}
		switch {
		case isSection(f.Type):
			k.Section = true
			*out = append(*out, Key{Path: k.Path, Type: k.Type, Section: true, Depth: depth})
			walkKeys(f.Type, k.Path+".", k.Env, depth+1, out)
		case f.Type.Kind() == reflect.Slice && isSection(f.Type.Elem()):
			k.List, k.Env = true, ""
			*out = append(*out, k)
			walkKeys(f.Type.Elem(), k.Path+".", "", depth+1, out)
		default:
			*out = append(*out, k)
		}
	}
}

// fieldByPath returns the field of v (a Config) at a dotted path of
// sections and a key, or an invalid Value.
func fieldByPath(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}
		}
		t := v.Type()
		found := false
		for i := range t.NumField() {
			if yamlName(t.Field(i)) == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}
		}
	}
	return v
}

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a likely misspelling, else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// envNames are the variables the environment may set.
func envNames() []string {
	var names []string
	for _, k := range Keys() {
		if k.Env != "" && !k.Section {
			names = append(names, k.Env)
		}
	}
	return slices.Concat(names, ReadElsewhere)
}

// Changed lists the keys whose values differ between a and b, in Keys()
// order; a list of sections (M2M partners) is one key, compared whole.
func Changed(a, b Config) []string {
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	var out []string
	keys := Keys()
	for i, k := range keys {
		if k.Section || inList(keys, i) {
			continue
		}
		x, y := fieldByPath(va, k.Path), fieldByPath(vb, k.Path)
		if x.Kind() == reflect.Slice && x.Len() == 0 && y.Len() == 0 {
			continue // nil and empty are the same setting
		}
		if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			out = append(out, k.Path)
		}
	}
	return out
}
