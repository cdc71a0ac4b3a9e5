package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// CounterReader is implemented by stores that can read windowed counters
// without writing. The guard uses it on the success path so a correct
// secret costs one read, not an upsert; stores without it fall back to
// AddToCounter with delta 0.
type CounterReader interface {
	// ReadCounters returns, per key, the sum of its counters over the
	// windows ending at windowEnds (absent counters count 0).
	ReadCounters(ctx context.Context, keys []string, windowEnds []time.Time) (map[string]int64, error)
}

// GuardLimits are the failed-authentication limits, each a number of
// failures in any span of one Window (docs/limiter.md).
type GuardLimits struct {
	// Pair bounds the failures of one credential from one address: that
	// pair is refused, nobody else.
	Pair int
	// Address bounds the failures from one address (IPv6: one /64) over
	// all credentials. Beyond it the address is not refused: each
	// credential it has not failed on keeps one attempt.
	Address int
	// Credential bounds the failures of one credential from all addresses,
	// cluster-wide. Beyond it the credential is not refused either: each
	// address that has not failed on it keeps one attempt.
	Credential int
	Window     time.Duration
}

// DefaultGuardLimits are the limits of a default configuration.
func DefaultGuardLimits() GuardLimits {
	return GuardLimits{Pair: 10, Address: 100, Credential: 20, Window: 5 * time.Minute}
}

// admits is the whole rule: whether an attempt may be answered for what
// it is, given the failures already counted for its pair (p), its
// address (a) and its credential (s). A hot address or credential keeps
// admitting the pairs without failures, so neither can be used to lock
// out someone else; each such pair gets one attempt.
func (l GuardLimits) admits(p, a, s int64) bool {
	if p >= int64(l.Pair) {
		return false
	}
	if a >= int64(l.Address) || s >= int64(l.Credential) {
		return p == 0
	}
	return true
}

// Attempt names one check of a secret: the credential it is for (kind and
// the public name the caller presented, which need not exist), the
// client address it came from (httpapi.ClientAddr.IP), and the protocol
// family and scheme or grant that checks it (the adapter's constants,
// the labels of Observer.AuthOutcome), to which a refusal is attributed.
type Attempt struct {
	Kind   CredentialKind
	Lookup string
	Addr   string

	Family, Scheme string
}

// Guard limits failed authentications for every protocol family and every
// kind of secret, with counters in the shared CounterStore so the limits
// hold across every node on one database. Failures are counted three ways
// at once (pair, address, credential; GuardLimits says how each limits)
// and all three are read in one store round trip.
//
// Failures are counted with an atomic increment before the outcome is
// revealed, so concurrent attempts on any number of nodes cannot get more
// answers than the limits allow. A correct secret presented while its
// attempt is not admitted is refused the same way, so the reply tells an
// attacker nothing beyond "limited".
//
// The in-process fast path refuses a pair seen refused until its current
// window ends, without a database round trip or a secret check. On the
// success path a node alone on its store answers from memory what it
// knows exactly (SetAlone); a node sharing it trusts a store read that
// admitted a pair for AdmitCacheTTL, unless it counts a failure of the
// pair itself first. Wrong guesses are always counted in the store and
// answered from its counts.
type Guard struct {
	store  CounterStore
	clock  Clock
	limits GuardLimits

	mu      sync.Mutex
	blocked map[string]time.Time // pair key -> refuse without asking the store until then

	// alone is set when this process is the only node on its store
	// (SetAlone): every failure from then on is counted by this process.
	// A counter the store showed empty once (clean), with no failure
	// recorded here since that still counts (failed: until when), is 0,
	// so a success whose three counters are all so skips the store read.
	alone  bool
	clean  map[string]struct{}
	failed map[string]time.Time

	// admitted, when not alone, holds pairs whose success a store read
	// admitted, trusted until the time given unless this node counts a
	// failure of the pair first (docs/limiter.md: the admit cache).
	admitted map[string]time.Time

	observed
}

// AdmitCacheTTL is how long a node that shares its store trusts a store
// read that admitted a pair's correct secret: failures counted by other
// nodes meanwhile are seen by it at the latest this much later.
const AdmitCacheTTL = time.Second

// maxBlockedEntries bounds the fast-path memory; when it is full new
// blocks are simply not cached (the store still enforces them).
const maxBlockedEntries = 100_000

// guardPrefix namespaces the guard's counters in the shared counter table.
const guardPrefix = "authfail:"

// NewGuard builds the guard. Limits below 1 count as 1, a window below
// one second as one second (configuration validates them first).
func NewGuard(store CounterStore, clock Clock, limits GuardLimits) *Guard {
	limits.Pair, limits.Address, limits.Credential = max(limits.Pair, 1), max(limits.Address, 1), max(limits.Credential, 1)
	limits.Window = max(limits.Window, time.Second)
	return &Guard{store: store, clock: clock, limits: limits, blocked: map[string]time.Time{}, admitted: map[string]time.Time{}}
}

// SetAlone declares that this process is the only one counting failures
// in the store from now on (a single node on SQLite). A success then
// reads the store once per counter (failures counted by an earlier
// process are found there) and afterwards is answered from memory while
// none of its counters has a failure that counts.
func (g *Guard) SetAlone() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.alone, g.clean, g.failed = true, map[string]struct{}{}, map[string]time.Time{}
}

// AddressKey is the unit addresses are counted in: an IPv4 address, the
// /64 of an IPv6 address (one subscriber's prefix; counting single IPv6
// addresses would give an attacker 2^64 fresh ones). Anything else is
// kept as is when short, hashed when long.
func AddressKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is4() {
			return a.String()
		}
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	if len(addr) <= 64 {
		return "raw:" + addr
	}
	sum := sha256.Sum256([]byte(addr))
	return "raw#" + hex.EncodeToString(sum[:16])
}

// guardKeys are the counter keys of one attempt.
type guardKeys struct{ pair, addr, cred string }

func (k guardKeys) list() []string { return []string{k.pair, k.addr, k.cred} }

// keys names the attempt's counters. Caller-chosen lookups of any length
// are not stored as such: long ones are hashed.
func (g *Guard) keys(a Attempt) guardKeys {
	cred := string(a.Kind) + ":" + a.Lookup
	if len(a.Lookup) > 128 {
		sum := sha256.Sum256([]byte(a.Lookup))
		cred = string(a.Kind) + "#" + hex.EncodeToString(sum[:16])
	}
	addr := AddressKey(a.Addr)
	// The address never contains '@', so the pair key splits unambiguously at its last one.
	return guardKeys{pair: guardPrefix + "p:" + cred + "@" + addr, addr: guardPrefix + "a:" + addr, cred: guardPrefix + "c:" + cred}
}

// IsGuess reports whether a failed check is a wrong guess that counts
// against the limits: an unknown, wrong, revoked or expired credential.
// Other failures (a store outage, malformed input) do not count.
func IsGuess(err error) bool {
	switch KindOf(err) {
	case KindUnauthenticated, KindRevoked, KindExpired:
		return true
	}
	return false
}

// Verify runs check, the adapter's whole verification of the attempt's
// secret, under the limits: refused at once when the pair is known here
// to be refused; a failure (IsGuess) counted before it is answered; a
// success checked against the counters before it is revealed. It returns
// nil, check's own error, or a KindRateLimited error with RetryAfter when
// the attempt is not admitted, whatever the secret.
func (g *Guard) Verify(ctx context.Context, a Attempt, check func() error) error {
	err := g.verify(ctx, a, check)
	if KindOf(err) == KindRateLimited {
		g.observer().AuthLimited(a.Family, a.Scheme)
	}
	return err
}

func (g *Guard) verify(ctx context.Context, a Attempt, check func() error) error {
	k := g.keys(a)
	if err := g.blockedPair(k.pair); err != nil {
		return err
	}
	err := check()
	switch {
	case err == nil:
		return g.admit(ctx, k)
	case IsGuess(err):
		if lerr := g.fail(ctx, k); lerr != nil {
			return lerr
		}
	}
	return err
}

// dropExpired deletes the entries of m that ended by now and returns how many remain.
func dropExpired(m map[string]time.Time, now time.Time) int {
	for k, until := range m {
		if !now.Before(until) {
			delete(m, k)
		}
	}
	return len(m)
}

// knownClean reports whether none of keys can have a counted failure
// (alone mode only).
func (g *Guard) knownClean(now time.Time, keys []string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.alone {
		return false
	}
	for _, k := range keys {
		if _, ok := g.clean[k]; !ok {
			return false
		}
		if until, ok := g.failed[k]; ok {
			if now.Before(until) {
				return false
			}
			delete(g.failed, k)
		}
	}
	return true
}

// noteClean remembers counters the store showed without failures.
func (g *Guard) noteClean(keys []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.alone {
		return
	}
	if len(g.clean)+len(keys) > maxBlockedEntries {
		clear(g.clean) // start over: counters are read from the store again
	}
	for _, k := range keys {
		g.clean[k] = struct{}{}
	}
}

// noteFailure remembers, in alone mode, until when a failure of key counts.
func (g *Guard) noteFailure(key string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.alone {
		return
	}
	if len(g.failed) >= maxBlockedEntries {
		if dropExpired(g.failed, g.clock.Now()) >= maxBlockedEntries {
			// Too many to track: read the store for everyone from now on.
			g.alone = false
			return
		}
	}
	g.failed[key] = until
}

// windows returns the end of the current window and the counter labels of
// the current and previous windows. A window is labelled one Window after
// its end, because CounterStore.PurgeCounters drops counters whose label has
// passed and the previous window must survive while it still counts.
func (g *Guard) windows(now time.Time) (end, cur, prev time.Time) {
	w := g.limits.Window.Nanoseconds()
	end = time.Unix(0, (now.UnixNano()/w+1)*w).UTC()
	return end, end.Add(g.limits.Window), end
}

func rateLimited(until time.Time, now time.Time) error {
	d := until.Sub(now)
	secs := int64((d + time.Second - 1) / time.Second) // round up
	return &Error{Kind: KindRateLimited, Reason: "too many failed authentications; retry in " + strconv.FormatInt(secs, 10) + " s", RetryAfter: d}
}

// blockedPair is the fast path: a KindRateLimited error if the pair key
// is known on this node to be refused. It never consults the store.
func (g *Guard) blockedPair(pair string) error {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if until, ok := g.blocked[pair]; ok {
		if now.Before(until) {
			return rateLimited(until, now)
		}
		delete(g.blocked, pair)
	}
	return nil
}

func (g *Guard) block(pair string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.blocked) >= maxBlockedEntries {
		if dropExpired(g.blocked, g.clock.Now()) >= maxBlockedEntries {
			return
		}
	}
	g.blocked[pair] = until
}

// admit is called after a correct secret and before revealing it: a
// KindRateLimited error unless the counters, across all nodes, admit it.
func (g *Guard) admit(ctx context.Context, k guardKeys) error {
	now := g.clock.Now()
	keys := k.list()
	if g.knownClean(now, keys) || g.recentlyAdmitted(now, k.pair) {
		return nil
	}
	end, cur, prev := g.windows(now)
	sums, err := g.read(ctx, keys, cur, prev)
	if err != nil {
		return err
	}
	if !g.limits.admits(sums[k.pair], sums[k.addr], sums[k.cred]) {
		g.block(k.pair, end)
		return rateLimited(end, now)
	}
	var clean []string
	for _, key := range keys {
		if sums[key] == 0 {
			clean = append(clean, key)
		}
	}
	g.noteClean(clean)
	g.noteAdmitted(now, k.pair)
	return nil
}

// recentlyAdmitted reports whether a store read admitted the pair less
// than AdmitCacheTTL ago with no failure of it counted here since (not
// alone: alone, knownClean is exact).
func (g *Guard) recentlyAdmitted(now time.Time, pair string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.admitted[pair]
	if ok && !now.Before(until) {
		delete(g.admitted, pair)
		return false
	}
	return ok
}

func (g *Guard) noteAdmitted(now time.Time, pair string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.alone {
		return
	}
	if len(g.admitted) >= maxBlockedEntries && dropExpired(g.admitted, now) >= maxBlockedEntries {
		return
	}
	g.admitted[pair] = now.Add(AdmitCacheTTL)
}

// forgetAdmitted drops the pair's cached admission: its failure counts from now on.
func (g *Guard) forgetAdmitted(pair string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.admitted, pair)
}

func (g *Guard) read(ctx context.Context, keys []string, windows ...time.Time) (map[string]int64, error) {
	if r, ok := g.store.(CounterReader); ok {
		return r.ReadCounters(ctx, keys, windows)
	}
	out := make(map[string]int64, len(keys))
	for _, k := range keys {
		for _, w := range windows {
			v, err := g.store.AddToCounter(ctx, k, w, 0)
			if err != nil {
				return nil, err
			}
			out[k] += v
		}
	}
	return out, nil
}

// fail records one failed authentication on all three counters. It
// returns a KindRateLimited error when the failure was not admitted; the
// caller must then answer "limited" instead of revealing that the secret
// was wrong.
func (g *Guard) fail(ctx context.Context, k guardKeys) error {
	now := g.clock.Now()
	end, cur, prev := g.windows(now)
	keys := k.list()
	g.forgetAdmitted(k.pair)
	after := make(map[string]int64, len(keys))
	for _, key := range keys {
		// Noted before counting, so a concurrent success never misses it.
		// It counts in the current window and, as the previous one, in
		// the next: until one window after the current one's end.
		g.noteFailure(key, end.Add(g.limits.Window))
		v, err := g.store.AddToCounter(ctx, key, cur, 1)
		if err != nil {
			return err
		}
		after[key] = v
	}
	prevSums, err := g.read(ctx, keys, prev)
	if err != nil {
		return err
	}
	for _, key := range keys {
		after[key] += prevSums[key]
	}
	p, a, s := after[k.pair], after[k.addr], after[k.cred]
	if !g.limits.admits(p, a, s) {
		// The next attempt of this pair is refused: do so without the store until the window ends.
		g.block(k.pair, end)
	}
	// Each increment is atomic, so the counts before this failure are
	// one less, and only that many concurrent failures see them.
	if !g.limits.admits(p-1, a-1, s-1) {
		return rateLimited(end, now)
	}
	return nil
}
