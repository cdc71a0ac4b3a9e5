package gateway

import (
	"strconv"
	"testing"
	"time"
)

// TestIdentityCache: a token is reused only for the same claims' inputs,
// until half its life, and the cache stays bounded.
func TestIdentityCache(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	c := newIdentityCache()
	k := identityKey{kid: "k1", issuer: "https://a", route: "api", credential: "tok-1", subject: "alice", org: "o", scheme: "oauth2-bearer", kind: "user"}
	c.put(k, "jwt-1", t0, t0.Add(time.Minute))
	if tok, ok := c.get(k, t0.Add(29*time.Second)); !ok || tok != "jwt-1" {
		t.Fatal("not reused within half its life")
	}
	if _, ok := c.get(k, t0.Add(30*time.Second)); ok {
		t.Fatal("reused past half its life")
	}
	for name, other := range map[string]func(identityKey) identityKey{
		"another route":       func(k identityKey) identityKey { k.route = "admin"; return k },
		"another credential":  func(k identityKey) identityKey { k.credential = "tok-2"; return k },
		"another signing key": func(k identityKey) identityKey { k.kid = "k2"; return k },
		"another issuer":      func(k identityKey) identityKey { k.issuer = "https://b"; return k },
		"another scope":       func(k identityKey) identityKey { k.scope = "admin"; return k },
		"another org":         func(k identityKey) identityKey { k.org = "o2"; return k },
	} {
		if _, ok := c.get(other(k), t0); ok {
			t.Errorf("%s: reused", name)
		}
	}
	// A credential expiring in 2 s: reusable for 1 s.
	short := k
	short.credential, short.credentialExpiry = "tok-short", t0.Add(2*time.Second).UnixNano()
	c.put(short, "jwt-short", t0, t0.Add(2*time.Second))
	if _, ok := c.get(short, t0.Add(time.Second)); ok {
		t.Fatal("reused past half of a short life")
	}
	// Bounded.
	c.max = 100
	for i := range 1000 {
		k := k
		k.credential = strconv.Itoa(i)
		c.put(k, "t", t0, t0.Add(time.Minute))
		if len(c.entries) > c.max {
			t.Fatalf("%d entries, bound %d", len(c.entries), c.max)
		}
	}
}
