package tpv

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// The golden files live with the server, which checks its own
// implementation against them; this SDK must produce the same bytes.
const goldenDir = "../../internal/protocol/tpv/testdata/"

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(goldenDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoginGolden(t *testing.T) {
	want := readGolden(t, "login_string.golden")
	msg := LoginMessage("hT3kq9-Zx_2mVbN8", "1700000000")
	sig := LoginSignature("hT3kq9-Zx_2mVbN8", "1700000000", "s3cr3t/with+odd=chars")
	if got := msg + "\n" + sig + "\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	u := LoginURL("https://tpv.example.com/", "hT3kq9-Zx_2mVbN8", "s3cr3t/with+odd=chars", time.Unix(1700000000, 0))
	if u != "https://tpv.example.com/api/v1/auth?token=hT3kq9-Zx_2mVbN8&timestamp=1700000000&_signature="+sig {
		t.Fatalf("login URL %s", u)
	}
}

func TestCanonicalRequestGolden(t *testing.T) {
	cq, err := CanonicalQuery("z=last&a=2&a=10&sp=a+b%20c&tilde=%7e&star=*&euro=%E2%82%AC&empty=&flag&A=upper")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"program_code":"555","name":"Fixed 12"}`)
	tok := "iDKoAEBu4jCLBUB3ijTs11VDFb9S2pul0826iC2aM5E"
	if got := CanonicalRequest("post", "/api/v1/products", cq, "1700000000", body, tok); got != readGolden(t, "canonical_request.golden") {
		t.Fatalf("canonical request %q", got)
	}
	u, _ := url.Parse("https://x/api/v1/products?z=last&a=2&a=10&sp=a+b%20c&tilde=%7e&star=*&euro=%E2%82%AC&empty=&flag&A=upper")
	sig, err := RequestSignature("s3cr3t/with+odd=chars", "POST", u, "1700000000", body, tok)
	if err != nil || sig+"\n" != readGolden(t, "canonical_request.sig.golden") {
		t.Fatalf("signature %s %v", sig, err)
	}
}

// TestUniqueTimestamp: a client never sends the same signature twice; a
// repeat in the same second moves to the next second.
func TestUniqueTimestamp(t *testing.T) {
	now := time.Unix(1700000000, 0)
	c := &Client{Now: func() time.Time { return now }}
	sign := func(ts string) (string, error) { return "sig-" + ts, nil }
	var got []string
	for range 3 {
		ts, _, err := c.uniqueTimestamp(sign)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ts)
	}
	if strings.Join(got, ",") != "1700000000,1700000001,1700000002" {
		t.Fatalf("timestamps %v", got)
	}
	// Distinct requests keep the current second.
	ts, _, _ := c.uniqueTimestamp(func(ts string) (string, error) { return "other-" + ts, nil })
	if ts != "1700000000" {
		t.Fatalf("distinct request moved to %s", ts)
	}
}
