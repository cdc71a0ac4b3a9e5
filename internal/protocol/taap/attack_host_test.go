package taap_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// hostRewriter sends every request with another Host header.
type hostRewriter struct{ host string }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	return http.DefaultTransport.RoundTrip(r)
}

// With no issuer configured, discovery and the ID token's iss followed the
// Host header: anyone could mint "issuer": "https://evil.example" documents
// and tokens. They name this server's own address instead.
func TestAttack_HostHeaderMintsIssuer(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	evil := &http.Client{Transport: hostRewriter{"evil.example"}}
	req, _ := http.NewRequest("GET", f.env.URL+taap.RouteOIDC, nil)
	resp, err := evil.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "evil.example") || !strings.Contains(string(body), `"issuer":"`+f.env.URL+`"`) {
		t.Fatalf("discovery with Host: evil.example: %d %s", resp.StatusCode, body)
	}
	f.sdk.HTTP = evil
	tr, err := f.sdk.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(tr.IDToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != f.env.URL {
		t.Fatalf("ID token iss = %q with Host: evil.example, want %q", c.Issuer, f.env.URL)
	}
}
