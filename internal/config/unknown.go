package config

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// unknownKeys names every key of a parsed YAML document that the
// definitions do not have, with its line and the nearest known key of
// the same section.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []string {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return unknownKeys(n.Content[0], t, path)
	}
	switch {
	case n.Kind == yaml.MappingNode && isSection(t):
		names := map[string]reflect.Type{}
		var known []string
		for i := range t.NumField() {
			if name := yamlName(t.Field(i)); name != "" {
				names[name] = t.Field(i).Type
				known = append(known, name)
			}
		}
		var out []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := names[k.Value]
			if !ok {
				msg := fmt.Sprintf("line %d: unknown key %s%s", k.Line, path, k.Value)
				if near := nearest(k.Value, known); near != "" {
					msg += " (did you mean " + path + near + "?)"
				}
				out = append(out, msg)
				continue
			}
			out = append(out, unknownKeys(v, ft, path+k.Value+".")...)
		}
		return out
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice && isSection(t.Elem()):
		var out []string
		for i, e := range n.Content {
			out = append(out, unknownKeys(e, t.Elem(), fmt.Sprintf("%s[%d].", path[:len(path)-1], i))...)
		}
		return out
	}
	return nil
}
