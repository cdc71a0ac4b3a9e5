package wssec

import "testing"

// TestNormalizeAttrWhitespace: only literal TAB, LF and CR inside
// attribute values of start tags become spaces (CR LF one space); text,
// comments, CDATA sections, processing instructions and character
// references are left alone.
func TestNormalizeAttrWhitespace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<a b=\"x\ty\nz\">t\tu\n</a>", "<a b=\"x y z\">t\tu\n</a>"},
		{"<a b='x\r\ny\rz'/>", "<a b='x y z'/>"},
		{"<a b=\"&#9;&#10;&#13;\"/>", "<a b=\"&#9;&#10;&#13;\"/>"},
		{"<a b=\"x>\ty\" c='\"\t'\n d=\"\t\"/>", "<a b=\"x> y\" c='\" '\n d=\" \"/>"},
		{"<a><!-- <b c=\"\t\"> --><![CDATA[<b c=\"\t\">]]><?p c=\"\t\"?></a>", "<a><!-- <b c=\"\t\"> --><![CDATA[<b c=\"\t\">]]><?p c=\"\t\"?></a>"},
		{"<a\tb=\"1\"\n\tc=\"\t\"></a\t>", "<a\tb=\"1\"\n\tc=\" \"></a\t>"},
		{"<a b=\"\t", "<a b=\" "},
		{"", ""},
	} {
		if got := string(normalizeAttrWhitespace([]byte(tc.in))); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	in := []byte("<a b=\"c\">\t</a>")
	if out := normalizeAttrWhitespace(in); &out[0] != &in[0] {
		t.Error("copied a message with nothing to normalise")
	}
}
