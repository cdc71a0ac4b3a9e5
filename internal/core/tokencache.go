package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache keeps recently looked-up tokens of opted-in kinds in memory,
// so a bearer check costs a keyed hash and a map read instead of a database
// round trip.
//
// Freshness rules (the bound documented in README and DESIGN):
//   - A revocation made through this node's Tokens (Revoke, RevokeFamily,
//     RevokePrincipal) takes effect here at once: it bumps an epoch and every
//     entry cached before it is re-read from the store.
//   - A revocation made by another node (or directly on the store) is seen
//     here at the latest MaxAge after it, when the entry is re-read.
//   - Expiry is checked on every lookup against the injected clock.
//
// Only kinds whose stored rows change in place solely by revocation may be
// cached (renewable tokens whose expiry moves must not opt in).
type tokenCache struct {
	kinds  atomic.Pointer[map[TokenKind]time.Duration]
	epoch  atomic.Uint64
	shards [tokenCacheShards]tokenShard
	max    int // entries per shard
}

const (
	tokenCacheShards = 32
	// defaultTokenCacheEntries bounds memory (about 400 bytes an entry).
	defaultTokenCacheEntries = 200_000
)

type tokenShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*cachedToken
}

// cachedToken is never modified once cached (put replaces an entry with
// a new one): lookups that find it share its token (Tokens.LookupShared)
// instead of copying it.
type cachedToken struct {
	t       Token
	fetched time.Time
	epoch   uint64
}

func newTokenCache() *tokenCache {
	c := &tokenCache{max: defaultTokenCacheEntries / tokenCacheShards}
	empty := map[TokenKind]time.Duration{}
	c.kinds.Store(&empty)
	for i := range c.shards {
		c.shards[i].m = map[[32]byte]*cachedToken{}
	}
	return c
}

func (c *tokenCache) maxAge(kind TokenKind) (time.Duration, bool) {
	d, ok := (*c.kinds.Load())[kind]
	return d, ok
}

func cacheKey(hash []byte) ([32]byte, bool) {
	var k [32]byte
	if len(hash) != len(k) {
		return k, false
	}
	copy(k[:], hash)
	return k, true
}

func (c *tokenCache) shard(k [32]byte) *tokenShard { return &c.shards[k[0]%tokenCacheShards] }

// get returns the cached token of hash, shared (never to be modified),
// or nil when there is none still fresh.
func (c *tokenCache) get(hash []byte, now time.Time, maxAge time.Duration) *Token {
	k, ok := cacheKey(hash)
	if !ok {
		return nil
	}
	sh := c.shard(k)
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	if e == nil || e.epoch != c.epoch.Load() || now.Sub(e.fetched) >= maxAge || now.Before(e.fetched) {
		return nil
	}
	return &e.t
}

// put caches t as read at now under epoch (taken before the read, so a
// revocation racing with the read leaves the entry already stale) and
// returns the cached copy (nil when t has no cache key).
func (c *tokenCache) put(t Token, now time.Time, epoch uint64) *Token {
	k, ok := cacheKey(t.Hash)
	if !ok {
		return nil
	}
	e := &cachedToken{t: t, fetched: now, epoch: epoch}
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.max {
		// Drop stale entries first, then arbitrary ones: the cache is an
		// optimisation and the store stays the truth.
		cur := c.epoch.Load()
		for key, e := range sh.m {
			if e.epoch != cur || (e.t.ExpiresAt != nil && !now.Before(*e.t.ExpiresAt)) {
				delete(sh.m, key)
			}
		}
		for key := range sh.m {
			if len(sh.m) < c.max {
				break
			}
			delete(sh.m, key)
		}
	}
	sh.m[k] = e
	return &e.t
}

// invalidate makes every cached entry stale.
func (c *tokenCache) invalidate() { c.epoch.Add(1) }

// EnableCache turns on the in-memory lookup cache for tokens of kind:
// entries are trusted for at most maxAge before being re-read from the
// store, which bounds how late a revocation made on another node is seen.
// Revocations through this Tokens apply immediately on this node. Only
// enable it for kinds that change in the store solely by revocation (never
// for renewable tokens whose expiry is moved). maxAge <= 0 disables it.
func (s *Tokens) EnableCache(kind TokenKind, maxAge time.Duration) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	old := *s.cache.kinds.Load()
	next := make(map[TokenKind]time.Duration, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if maxAge > 0 {
		next[kind] = maxAge
	} else {
		delete(next, kind)
	}
	s.cache.kinds.Store(&next)
	s.cache.invalidate()
}

// RevokePrincipal revokes every token of a principal (all kinds), for
// example when its credential is deleted.
func (s *Tokens) RevokePrincipal(ctx context.Context, principalID string) (int, error) {
	n, err := s.store.RevokePrincipalTokens(ctx, principalID, s.clock.Now())
	s.cache.invalidate()
	return n, err
}
