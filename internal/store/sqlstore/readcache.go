package sqlstore

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// readCache keeps credentials and principals this store read, for at most
// maxAge, so the hot lookups of every signed or password request (the
// credential by id or by lookup, its principal) cost a map read instead of
// a database round trip. It is meant for PostgreSQL, where each read is a
// network round trip and the database's CPU is shared by every node.
//
// Freshness (the bound the README states):
//   - A write through this store (create, rename, revoke a credential;
//     create, disable a principal) makes every entry stale at once.
//   - A write made by another node is seen here at the latest maxAge after
//     it: a credential revoked or a principal disabled elsewhere may still
//     be accepted here for that long.
//   - Only rows that exist are cached: a credential created on another
//     node is found on the next read.
type readCache struct {
	maxAge time.Duration
	clock  core.Clock
	epoch  atomic.Uint64

	mu         sync.RWMutex
	creds      map[string]cachedRead[core.Credential] // by id
	lookups    map[credLookup]cachedRead[core.Credential]
	principals map[string]cachedRead[core.Principal]
}

type credLookup struct {
	kind   core.CredentialKind
	lookup string
}

type cachedRead[T any] struct {
	v       T
	fetched time.Time
	epoch   uint64
}

// maxCachedReads bounds each map; a full map is emptied (the store stays the truth).
const maxCachedReads = 100_000

// CacheReads turns on the read cache with the given bound (0 or less turns
// it off) and the clock it measures entry ages with.
func (s *Store) CacheReads(maxAge time.Duration, clock core.Clock) {
	if maxAge <= 0 {
		s.cache.Store(nil)
		return
	}
	s.cache.Store(&readCache{maxAge: maxAge, clock: clock, creds: map[string]cachedRead[core.Credential]{},
		lookups: map[credLookup]cachedRead[core.Credential]{}, principals: map[string]cachedRead[core.Principal]{}})
}

func getCached[K comparable, T any](c *readCache, m map[K]cachedRead[T], k K) (T, bool) {
	c.mu.RLock()
	e, ok := m[k]
	c.mu.RUnlock()
	now := c.clock.Now()
	if !ok || e.epoch != c.epoch.Load() || now.Sub(e.fetched) >= c.maxAge || now.Before(e.fetched) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// putCached stores v as read at fetched under epoch (both taken before the
// read, so a write racing with the read leaves the entry already stale).
func putCached[K comparable, T any](c *readCache, m map[K]cachedRead[T], k K, v T, fetched time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) >= maxCachedReads {
		clear(m)
	}
	m[k] = cachedRead[T]{v: v, fetched: fetched, epoch: epoch}
}

// invalidateReads makes every entry stale; writes of credentials and principals call it.
func (s *Store) invalidateReads() {
	if c := s.cache.Load(); c != nil {
		c.epoch.Add(1)
	}
}

// cachedCredential reads a credential through the cache.
func cachedCredential[K comparable](s *Store, pick func(*readCache) map[K]cachedRead[core.Credential], k K, read func() (core.Credential, error)) (core.Credential, error) {
	c := s.cache.Load()
	if c == nil {
		return read()
	}
	if v, ok := getCached(c, pick(c), k); ok {
		return cloneCredential(v), nil
	}
	epoch, fetched := c.epoch.Load(), c.clock.Now()
	v, err := read()
	if err == nil {
		putCached(c, pick(c), k, cloneCredential(v), fetched, epoch)
	}
	return v, err
}

// cloneCredential copies the byte slices, so a caller changing its copy
// cannot change what the cache hands the next caller.
func cloneCredential(c core.Credential) core.Credential {
	c.SecretHash, c.Sealed, c.Public, c.Meta = slices.Clone(c.SecretHash), slices.Clone(c.Sealed), slices.Clone(c.Public), slices.Clone(c.Meta)
	c.ExpiresAt, c.RevokedAt = cloneTime(c.ExpiresAt), cloneTime(c.RevokedAt)
	return c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

func (s *Store) getCredentialCached(ctx context.Context, id string) (core.Credential, error) {
	return cachedCredential(s, func(c *readCache) map[string]cachedRead[core.Credential] { return c.creds }, id,
		func() (core.Credential, error) { return s.getCredential(ctx, id) })
}

func (s *Store) findCredentialCached(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error) {
	return cachedCredential(s, func(c *readCache) map[credLookup]cachedRead[core.Credential] { return c.lookups }, credLookup{kind, lookup},
		func() (core.Credential, error) { return s.findCredential(ctx, kind, lookup) })
}

func (s *Store) getPrincipalCached(ctx context.Context, id string) (core.Principal, error) {
	c := s.cache.Load()
	if c == nil {
		return s.getPrincipal(ctx, id)
	}
	if v, ok := getCached(c, c.principals, id); ok {
		return v, nil
	}
	epoch, fetched := c.epoch.Load(), c.clock.Now()
	v, err := s.getPrincipal(ctx, id)
	if err == nil {
		putCached(c, c.principals, id, v, fetched, epoch)
	}
	return v, err
}
