package core_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

func TestParseAndIntersectScope(t *testing.T) {
	for _, tc := range []struct {
		in, allowed, want string
		bad               bool
	}{
		{in: "a b", allowed: "b a", want: "a b"},
		{in: "b  a b", allowed: "a b", want: "b a"},
		{in: "billing", allowed: "iot-connectivity", want: ""},
		{in: "A", allowed: "a", want: ""},
		{in: `a"b`, bad: true},
		{in: `a\b`, bad: true},
		{in: "a\tb", bad: true},
		{in: "caf\u00e9", bad: true},
		{in: strings.Repeat("x ", core.MaxScopeTokens), allowed: "x", want: "x"},
		{in: strings.Repeat("x", 129), bad: true},
		{in: func() string {
			var b []string
			for i := 0; i <= core.MaxScopeTokens; i++ {
				b = append(b, "s"+strings.Repeat("y", i))
			}
			return strings.Join(b, " ")
		}(), bad: true},
	} {
		req, err := core.ParseScope(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseScope(%q) = %v, %v", tc.in, req, err)
			continue
		}
		if tc.bad {
			continue
		}
		if got := strings.Join(core.IntersectScope(req, strings.Fields(tc.allowed)), " "); got != tc.want {
			t.Errorf("%q within %q = %q, want %q", tc.in, tc.allowed, got, tc.want)
		}
	}
	if !core.HasScope("billing iot-connectivity", "iot-connectivity") || core.HasScope("iot-connectivity.admin", "iot-connectivity") {
		t.Fatal("HasScope")
	}
	if got, _ := core.ParseScope("  "); !slices.Equal(got, nil) {
		t.Fatalf("blank scope: %v", got)
	}
}
