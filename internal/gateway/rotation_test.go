package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/gateway"
)

// jwks fetches the gateway's published key set.
func jwks(t *testing.T, f *fixture) jose.JSONWebKeySet {
	t.Helper()
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	f.gw.Register(mux)
	mux.ServeHTTP(rec, httptest.NewRequest("GET", gateway.RouteJWKS, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); rec.Code != 200 || err != nil {
		t.Fatalf("JWKS: %d %v", rec.Code, err)
	}
	return set
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return p.Headers[0].KeyID
}

// TestIdentityKeyRotationOverlap: an identity token signed just before the
// signing key rotates still verifies with the JWKS fetched after the
// rotation, until it expires; the next key was published before it
// signed; once the overlap (identity_ttl + the signer reload + the JWKS
// max-age, after the pre-publication) is over, the old kid is gone and
// its tokens verify no more.
func TestIdentityKeyRotationOverlap(t *testing.T) {
	f := newFixture(t, route("api", "/orders"))
	identity := func() string {
		t.Helper()
		d, err := f.decide(t, request("GET", "/orders/1", "X-Test-Bearer", "alice"))
		if err != nil {
			t.Fatal(err)
		}
		return d.Header.Get(gateway.HeaderIdentity)
	}
	first := identity()
	rotation := gateway.DefaultConfig().KeyRotation
	const prepublish = 10 * time.Minute
	// Within the pre-publication of the rotation the next key is made and
	// published; the first key still signs.
	f.clock.Advance(rotation - prepublish)
	if kidOf(t, identity()) != kidOf(t, first) {
		t.Fatal("rotated before key_rotation")
	}
	if n := len(jwks(t, f).Keys); n != 2 {
		t.Fatalf("the next key is not published before it signs: %d keys", n)
	}
	// 30 s before the next key takes over: still the first key.
	f.clock.Advance(prepublish - 30*time.Second)
	before := identity()
	if kidOf(t, before) != kidOf(t, first) {
		t.Fatal("the next key signed before its pre-publication ended")
	}
	f.clock.Advance(40 * time.Second)
	after := identity()
	if kidOf(t, after) == kidOf(t, before) {
		t.Fatal("signing key not rotated after key_rotation")
	}
	// The token from before the rotation is still valid and verifies.
	verifyIdentity(t, f, before, "api")
	verifyIdentity(t, f, after, "api")
	// After the overlap the old kid has left the JWKS.
	f.clock.Advance(10 * time.Minute)
	set := jwks(t, f)
	if len(set.Key(kidOf(t, before))) != 0 || len(set.Key(kidOf(t, after))) != 1 {
		t.Fatalf("JWKS after the overlap: %d keys", len(set.Keys))
	}
}
