package httpapi

import (
	"net/http"
	"reflect"
	"testing"
)

// TestDropCookie: the console's cookie goes, in any position, under
// every Cookie header line, however spaced; other cookies, even with the
// name as a prefix or suffix, stay.
func TestDropCookie(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{ConsoleCookie + "=tok"}, nil},
		{[]string{"a=1; " + ConsoleCookie + "=tok; b=2"}, []string{"a=1; b=2"}},
		{[]string{"a=1", ConsoleCookie + "=tok", "b=2"}, []string{"a=1", "b=2"}},
		{[]string{ConsoleCookie + "=x;" + ConsoleCookie + "=y"}, nil},
		{[]string{"x" + ConsoleCookie + "=keep; " + ConsoleCookie + "x=keep"}, []string{"x" + ConsoleCookie + "=keep; " + ConsoleCookie + "x=keep"}},
		{[]string{"  " + ConsoleCookie + " = spaced "}, nil},
	} {
		h := http.Header{}
		for _, v := range tc.in {
			h.Add("Cookie", v)
		}
		DropCookie(h, ConsoleCookie)
		if got := h.Values("Cookie"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
