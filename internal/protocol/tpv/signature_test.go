package tpv

import (
	"encoding/hex"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch\n got: %q\nwant: %q", name, got, want)
	}
}

// Fixed inputs of the golden files; the SDK tests use the same ones.
const (
	goldenAppToken  = "hT3kq9-Zx_2mVbN8"
	goldenSecret    = "s3cr3t/with+odd=chars"
	goldenTimestamp = "1700000000"
	goldenAuthToken = "iDKoAEBu4jCLBUB3ijTs11VDFb9S2pul0826iC2aM5E"
	goldenRawQuery  = "z=last&a=2&a=10&sp=a+b%20c&tilde=%7e&star=*&euro=%E2%82%AC&empty=&flag&A=upper"
	goldenBody      = `{"program_code":"555","name":"Fixed 12"}`
)

func TestLoginStringGolden(t *testing.T) {
	msg := loginMessage(goldenAppToken, goldenTimestamp)
	sig := hex.EncodeToString(hmacSHA256([]byte(goldenSecret), msg))
	golden(t, "login_string.golden", msg+"\n"+sig+"\n")
	if sdkSig := sdk.LoginSignature(goldenAppToken, goldenTimestamp, goldenSecret); sdkSig != sig {
		t.Errorf("sdk login signature %s, server %s", sdkSig, sig)
	}
}

func TestCanonicalRequestGolden(t *testing.T) {
	cq, err := CanonicalQuery(goldenRawQuery)
	if err != nil {
		t.Fatal(err)
	}
	canon := canonicalRequest("post", "/api/v1/products", cq, goldenTimestamp, []byte(goldenBody), goldenAuthToken)
	golden(t, "canonical_request.golden", canon)
	sig := hex.EncodeToString(hmacSHA256([]byte(goldenSecret), canon))
	golden(t, "canonical_request.sig.golden", sig+"\n")

	// The SDK is a separate implementation; it must produce the same bytes.
	u := &url.URL{Path: "/api/v1/products", RawQuery: goldenRawQuery}
	sdkSig, err := sdk.RequestSignature(goldenSecret, "POST", u, goldenTimestamp, []byte(goldenBody), goldenAuthToken)
	if err != nil || sdkSig != sig {
		t.Errorf("sdk signature %s (%v), server %s", sdkSig, err, sig)
	}
	// An empty query and body still give six lines.
	empty := canonicalRequest("GET", "/api/v1/products", "", goldenTimestamp, nil, goldenAuthToken)
	golden(t, "canonical_request_empty.golden", empty)
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", ""},
		{"b=1&a=2", "a=2&b=1"},
		{"a=2&a=10", "a=10&a=2"},   // byte order of encoded values
		{"a+b=c+d", "a%20b=c%20d"}, // '+' is a space
		{"k=%7e%2a", "k=~%2A"},     // ~ bare, * encoded, hex upper-case
		{"flag&x=", "flag=&x="},    // no '=' signs like an empty value
		{"a-b=1&a=2", "a=2&a-b=1"}, // sorted on the name, not "name=value"
		{"&&a=1&", "a=1"},          // empty pieces ignored
		{"q=%E2%82%AC&q=%e2%82%ac", "q=%E2%82%AC&q=%E2%82%AC"}, // UTF-8 bytes, upper-case hex
		{"eq=a%3Db", "eq=a%3Db"},
	} {
		got, err := CanonicalQuery(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalQuery(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a=%zz", "%=1", "a=%4", strings.Repeat("a=1&", MaxQueryParams+1)} {
		if _, err := CanonicalQuery(bad); core.KindOf(err) != core.KindInvalidInput {
			t.Errorf("CanonicalQuery(%q): want invalid input, got %v", bad, err)
		}
	}
}

func TestParseLoginQuery(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	ok := "token=T&timestamp=1700000000&_signature=" + sig
	for _, tc := range []struct{ raw, wantErr string }{
		{ok, ""},
		{"token=T&timestamp=1700000000&_signature=" + strings.ToUpper(sig), ""},
		{ok + "&extra=ignored", ""},
		{"timestamp=1700000000&_signature=" + sig, "token must be given"},
		{"token=&timestamp=1700000000&_signature=" + sig, "token must be given"},
		{"token=T&_signature=" + sig, "timestamp must be given"},
		{"token=T&timestamp=1700000000", "_signature must be given"},
		{ok + "&token=U", "token must be given once"},
		{"token=T&timestamp=-5&_signature=" + sig, "timestamp must be a unix time in seconds"},
		{"token=T&timestamp=17e8&_signature=" + sig, "timestamp must be a unix time in seconds"},
		{"token=T&timestamp=1700000000&_signature=" + sig[:63], "_signature must be 64 hexadecimal digits"},
		{"token=T&timestamp=1700000000&_signature=" + strings.Repeat("zz", 32), "_signature must be 64 hexadecimal digits"},
		{"token=" + strings.Repeat("t", 257) + "&timestamp=1&_signature=" + sig, "token must be at most 256 characters"},
		{"token=%&timestamp=1&_signature=" + sig, "query must be correctly percent-encoded"},
	} {
		_, err := ParseLoginQuery(tc.raw)
		if got := core.ReasonOf(err); got != tc.wantErr {
			t.Errorf("ParseLoginQuery(%.60q): error %q, want %q", tc.raw, got, tc.wantErr)
		}
	}
}

func TestCheckFresh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{{0, true}, {300 * time.Second, true}, {-300 * time.Second, true}, {301 * time.Second, false}, {-301 * time.Second, false}} {
		err := checkFresh("timestamp", now.Add(tc.offset), now, 300*time.Second)
		if (err == nil) != tc.ok {
			t.Errorf("offset %v: %v", tc.offset, err)
		}
	}
}

func TestAuthTokenHeader(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "Bearer abc": "abc", "bearer  abc ": "abc", "": "", "Bearer": "Bearer"} {
		if got := authToken(in); got != want {
			t.Errorf("authToken(%q) = %q, want %q", in, got, want)
		}
	}
}
