package core

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// AddressBuckets is a small in-memory token bucket per client address, for
// unauthenticated helpers whose cost an address should not be able to
// multiply (the PoP explainer). It is per node: the bound is on what one
// node spends, which is what it protects. IPv6 addresses share one bucket
// per /64, the smallest block a host is usually given.
type AddressBuckets struct {
	clock Clock
	rate  float64 // tokens per second
	burst float64
	max   int

	mu    sync.Mutex
	m     map[string]bucket
	swept time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewAddressBuckets allows burst requests at once and perSecond on average
// per address, tracking at most maxAddrs addresses.
func NewAddressBuckets(clock Clock, perSecond float64, burst, maxAddrs int) *AddressBuckets {
	return &AddressBuckets{clock: clock, rate: perSecond, burst: float64(burst), max: maxAddrs, m: map[string]bucket{}}
}

// Allow takes a token for addr, or returns a KindRateLimited error with the
// time until the next token. When the table is full of addresses still
// limited, new addresses are refused (fail closed) until some refill.
func (b *AddressBuckets) Allow(addr string) error {
	key := bucketKey(addr)
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, ok := b.m[key]
	if !ok {
		if len(b.m) >= b.max && !b.sweep(now) {
			return &Error{Kind: KindRateLimited, Reason: "too many requests, retry later", RetryAfter: time.Second}
		}
		bk = bucket{tokens: b.burst, at: now}
	}
	if el := now.Sub(bk.at).Seconds(); el > 0 {
		bk.tokens = min(b.burst, bk.tokens+el*b.rate)
	}
	bk.at = now
	if bk.tokens < 1 {
		b.m[key] = bk
		wait := time.Duration((1 - bk.tokens) / b.rate * float64(time.Second))
		return &Error{Kind: KindRateLimited, Reason: "too many requests from this address, retry in " + strconv.Itoa(int(wait/time.Second)+1) + " s", RetryAfter: wait}
	}
	bk.tokens--
	b.m[key] = bk
	return nil
}

// sweep drops addresses whose buckets are full again (they are as good as
// absent). It runs at most once per refill of one token, so a flood of new
// addresses cannot make every request walk the table. It reports whether
// there is room.
func (b *AddressBuckets) sweep(now time.Time) bool {
	if now.Sub(b.swept) < time.Duration(float64(time.Second)/b.rate) {
		return false
	}
	b.swept = now
	full := time.Duration(b.burst / b.rate * float64(time.Second))
	for k, bk := range b.m {
		if now.Sub(bk.at) >= full {
			delete(b.m, k)
		}
	}
	return len(b.m) < b.max
}

func bucketKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() || a.Is4In6() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}
