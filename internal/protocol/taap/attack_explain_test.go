package taap_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/keytest"
)

// The unauthenticated explainer took any RSA key (a 45,000-bit key costs
// ~50 ms to verify with) and any number of requests. Keys outside 2048 to
// 4096 bits are refused there and at registration, as PEM and as JWK, and
// one address gets a small budget of explanations.
func TestAttack_PoPExplainerOversizedKeyAndUnboundedRate(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	explain := func(key string) result {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"token": "a.b.c", "method": "GET", "uri": "/x", "public_key": key})
		req, _ := http.NewRequest("POST", f.env.URL+taap.RouteExplain, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		return send(t, req)
	}
	jwk := func(bits int) string {
		b, err := json.Marshal(jose.JSONWebKey{Key: keytest.FakeRSAKey(bits)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	keys := map[string]string{
		"PEM 8192": string(keytest.PublicKeyPEM(keytest.FakeRSAKey(8192))),
		"PEM 4097": string(keytest.PublicKeyPEM(keytest.FakeRSAKey(4097))),
		"PEM 1024": string(keytest.PublicKeyPEM(keytest.FakeRSAKey(1024))),
		"JWK 1024": jwk(1024), // go-jose itself refuses JWK moduli over 4096 bits
	}
	for name, k := range keys {
		r := explain(k)
		if r.status != 400 || r.code() != "invalid_request" || !strings.Contains(r.desc(), "bits; 2048 to 4096 bits are accepted") {
			t.Errorf("explain with %s key: %d %v", name, r.status, r.body)
		}
		_, err := taap.CreateClient(context.Background(), f.env.Svc, taap.ClientSpec{Name: "big key " + name, PublicKeys: [][]byte{[]byte(k)}})
		if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(core.ReasonOf(err), "2048 to 4096 bits are accepted") {
			t.Errorf("registering a %s key: %v", name, err)
		}
	}
	// The budget: what is left of the burst, then 429 with a retry hint,
	// then one more explanation a second later.
	good := string(keytest.PublicKeyPEM(&f.key.PublicKey))
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		r := explain(good)
		switch {
		case r.status == 429 && r.code() == "slow_down":
			limited = true
		case r.status != 200:
			t.Fatalf("explain %d: %d %v", i, r.status, r.body)
		}
	}
	if !limited {
		t.Fatal("20 explanations from one address in no time were all served")
	}
	f.env.Clock.Advance(1100 * time.Millisecond)
	if r := explain(good); r.status != 200 {
		t.Fatalf("after the refill: %d %v", r.status, r.body)
	}
	if r := explain(good); r.status != 429 {
		t.Fatalf("a second one in the same second: %d %v", r.status, r.body)
	}
}
