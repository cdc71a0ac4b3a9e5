package gateway

import (
	"sync"
	"time"
)

// identityCache keeps signed identity tokens so that a credential used
// again on the same route is handed the token signed for it a moment ago
// instead of a new ES256 signature: signing was the largest share of the
// gateway's per-request CPU (a quarter, profiled under wrk). A token is
// reused only while at least half of its life is left, never past the
// signing key's use, and only for exactly the same claims: the key is
// every input of the claims but the time.
type identityCache struct {
	mu      sync.Mutex
	entries map[identityKey]cachedIdentity
	max     int
}

// identityKey is everything a token's claims and signature depend on.
type identityKey struct {
	kid, issuer, route                     string
	credential, subject, org, scheme, kind string
	scope                                  string
	credentialExpiry                       int64 // unix nanoseconds; 0: does not expire
}

type cachedIdentity struct {
	token      string
	reuseUntil time.Time
}

// maxCachedIdentities bounds the cache; past it, expired entries are
// dropped, and if none are, the cache starts again empty.
const maxCachedIdentities = 10000

func newIdentityCache() *identityCache {
	return &identityCache{entries: map[identityKey]cachedIdentity{}, max: maxCachedIdentities}
}

// get returns the token cached for k, if it may still be handed out at now.
func (c *identityCache) get(k identityKey, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !now.Before(e.reuseUntil) {
		return "", false
	}
	return e.token, true
}

// put caches tok for k: issued at iat, expiring at exp, reusable until
// half of its life has passed.
func (c *identityCache) put(k identityKey, tok string, iat, exp time.Time) {
	until := iat.Add(exp.Sub(iat) / 2)
	if !until.After(iat) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, e := range c.entries {
			if !iat.Before(e.reuseUntil) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= c.max {
			c.entries = map[identityKey]cachedIdentity{}
		}
	}
	c.entries[k] = cachedIdentity{token: tok, reuseUntil: until}
}
