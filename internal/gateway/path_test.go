package gateway

import (
	"net/url"
	"strings"
	"testing"
)

// TestPathProblemExhaustive compares pathProblem with its definition
// (the escaped path lowered, the decoded path split into segments) on
// every path of up to five characters from the bytes that matter.
func TestPathProblemExhaustive(t *testing.T) {
	alphabet := []byte{'/', '.', '%', '2', 'f', 'F', '5', 'c', 'C', 'a', '\\', 0x01}
	var paths []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		paths = append(paths, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+string(c), n-1)
		}
	}
	grow("", 5)
	checked := 0
	for _, p := range paths {
		u, err := url.Parse("http://h/" + p)
		if err != nil {
			continue
		}
		checked++
		if got, want := pathProblem(u), pathProblemBySplit(u); got != want {
			t.Fatalf("%q: %q, want %q", "/"+p, got, want)
		}
	}
	if checked < 100000 {
		t.Fatalf("only %d paths parsed", checked)
	}
}

// pathProblemBySplit is pathProblem as first written.
func pathProblemBySplit(u *url.URL) string {
	l := strings.ToLower(u.EscapedPath())
	if strings.Contains(l, "%2f") || strings.Contains(l, "%5c") || strings.ContainsRune(u.Path, '\\') {
		return "an encoded / or a \\ in the path is refused"
	}
	p := u.Path
	if p == "" || p[0] != '/' {
		return "the path must be absolute"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "a control character in the path is refused"
		}
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || seg == "" && i < len(segs)-1 {
			return "the path has dot segments or empty segments (encoded): send the clean path"
		}
	}
	return ""
}
