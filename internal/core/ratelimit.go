package core

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// CounterReader is implemented by stores that can read windowed counters
// without writing. The limiter uses it on the success path so a correct
// secret costs one read, not an upsert; stores without it fall back to
// AddToCounter with delta 0.
type CounterReader interface {
	// ReadCounters returns, per key, the sum of its counters over the
	// windows ending at windowEnds (absent counters count 0).
	ReadCounters(ctx context.Context, keys []string, windowEnds []time.Time) (map[string]int64, error)
}

// Subject is what failures are counted against (an access key, a source
// address...) with the number of failures it may have per window. Keys of
// different kinds must not collide: prefix them ("key:", "addr:").
type Subject struct {
	Key   string
	Limit int
}

// FailureLimiter limits failed authentications per subject with counters
// in the shared CounterStore, so the limit holds across every node on one
// database. All subjects of one attempt are checked in one store read.
//
// The limit is a sliding bound: a subject is refused once its failures in
// the current and the previous fixed window reach Limit, which guarantees
// at most Limit failures are answered as such in any span of one Window.
// Failures are counted with an atomic increment before the outcome is
// revealed, so concurrent attempts on any number of nodes cannot get more
// than Limit wrong guesses answered. A correct secret presented while the
// subject is over the limit is refused the same way, so the reply tells an
// attacker nothing.
//
// The in-process fast path only ever refuses: a subject seen over the limit
// is remembered until its current window ends and refused without a
// database round trip. It never admits what the database would refuse.
type FailureLimiter struct {
	store  CounterStore
	clock  Clock
	window time.Duration
	prefix string

	mu      sync.Mutex
	blocked map[string]time.Time // subject -> refuse without asking the store until then

	// alone is set when this process is the only node on its store
	// (SetAlone): every failure from then on is counted by this process.
	// A subject whose counters the store showed empty once (clean), and
	// with no failure recorded here since that still counts (failed: until
	// when), cannot be over the limit, so Check skips the store read.
	alone  bool
	clean  map[string]struct{}
	failed map[string]time.Time
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

// maxBlockedEntries bounds the fast-path memory; when it is full new
// blocks are simply not cached (the store still enforces them).
const maxBlockedEntries = 100_000

// NewFailureLimiter builds a limiter counting failures in windows of the
// given length. namespace separates limiters sharing the counter table.
func NewFailureLimiter(store CounterStore, clock Clock, namespace string, window time.Duration) *FailureLimiter {
	if window < time.Second {
		window = time.Second
	}
	return &FailureLimiter{
		store: store, clock: clock, window: window,
		prefix: "authfail:" + namespace + ":", blocked: map[string]time.Time{},
	}
}

// SetAlone declares that this process is the only one counting failures
// in the store from now on (a single node on SQLite). Check then reads the
// store once per subject (failures counted by an earlier process are
// found there) and afterwards answers from memory while no failure of the
// subject counts.
func (l *FailureLimiter) SetAlone() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alone, l.clean, l.failed = true, map[string]struct{}{}, map[string]time.Time{}
}

// knownClean reports whether none of subjects can have a counted failure
// (alone mode only).
func (l *FailureLimiter) knownClean(now time.Time, subjects []Subject) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.alone {
		return false
	}
	for _, s := range subjects {
		if _, ok := l.clean[s.Key]; !ok {
			return false
		}
		if until, ok := l.failed[s.Key]; ok {
			if now.Before(until) {
				return false
			}
			delete(l.failed, s.Key)
		}
	}
	return true
}

// noteClean remembers subjects the store showed without failures.
func (l *FailureLimiter) noteClean(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.alone {
		return
	}
	if len(l.clean)+len(keys) > maxBlockedEntries {
		clear(l.clean) // start over: subjects are read from the store again
	}
	for _, k := range keys {
		l.clean[k] = struct{}{}
	}
}

// noteFailure remembers, in alone mode, until when a failure of subject counts.
func (l *FailureLimiter) noteFailure(subject string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.alone {
		return
	}
	if len(l.failed) >= maxBlockedEntries {
		if dropExpired(l.failed, l.clock.Now()) >= maxBlockedEntries {
			// Too many to track: read the store for everyone from now on.
			l.alone = false
			return
		}
	}
	l.failed[subject] = until
}

func limitOf(s Subject) int64 { return int64(max(s.Limit, 1)) }

// Window is the length of one counting window.
func (l *FailureLimiter) Window() time.Duration { return l.window }

// windows returns the end of the current window and the counter labels of
// the current and previous windows. A window is labelled one Window after
// its end, because CounterStore.PurgeCounters drops counters whose label has
// passed and the previous window must survive while it still counts.
func (l *FailureLimiter) windows(now time.Time) (end, cur, prev time.Time) {
	w := l.window.Nanoseconds()
	end = time.Unix(0, (now.UnixNano()/w+1)*w).UTC()
	return end, end.Add(l.window), end
}

func (l *FailureLimiter) rateLimited(until time.Time, now time.Time) error {
	secs := int64((until.Sub(now) + time.Second - 1) / time.Second) // round up
	return E(KindRateLimited, "too many failed authentications; retry in "+strconv.FormatInt(secs, 10)+" s")
}

// Blocked is the fast path: it reports a KindRateLimited error if one of
// subjects is known on this node to be over the limit. It never consults
// the store; Check and Fail do.
func (l *FailureLimiter) Blocked(subjects ...Subject) error {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range subjects {
		if until, ok := l.blocked[s.Key]; ok {
			if now.Before(until) {
				return l.rateLimited(until, now)
			}
			delete(l.blocked, s.Key)
		}
	}
	return nil
}

func (l *FailureLimiter) block(subject string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.blocked) >= maxBlockedEntries {
		if dropExpired(l.blocked, l.clock.Now()) >= maxBlockedEntries {
			return
		}
	}
	l.blocked[subject] = until
}

// Check is called after a successful authentication and before revealing
// it: it returns a KindRateLimited error if any subject has reached the
// limit, across all nodes.
func (l *FailureLimiter) Check(ctx context.Context, subjects ...Subject) error {
	if err := l.Blocked(subjects...); err != nil {
		return err
	}
	now := l.clock.Now()
	if l.knownClean(now, subjects) {
		return nil
	}
	end, cur, prev := l.windows(now)
	keys := make([]string, len(subjects))
	for i, s := range subjects {
		keys[i] = l.prefix + s.Key
	}
	sums, err := l.read(ctx, keys, cur, prev)
	if err != nil {
		return err
	}
	var clean []string
	for i, s := range subjects {
		if sums[keys[i]] >= limitOf(s) {
			l.block(s.Key, end)
			return l.rateLimited(end, now)
		}
		if sums[keys[i]] == 0 {
			clean = append(clean, s.Key)
		}
	}
	l.noteClean(clean)
	return nil
}

func (l *FailureLimiter) read(ctx context.Context, keys []string, cur, prev time.Time) (map[string]int64, error) {
	if r, ok := l.store.(CounterReader); ok {
		return r.ReadCounters(ctx, keys, []time.Time{cur, prev})
	}
	out := make(map[string]int64, len(keys))
	for _, k := range keys {
		for _, w := range []time.Time{cur, prev} {
			v, err := l.store.AddToCounter(ctx, k, w, 0)
			if err != nil {
				return nil, err
			}
			out[k] += v
		}
	}
	return out, nil
}

// Fail records one failed authentication for every subject. It returns a
// KindRateLimited error when this failure is beyond the limit for any of
// them; the caller must then answer "rate limited" instead of revealing
// that the secret was wrong.
func (l *FailureLimiter) Fail(ctx context.Context, subjects ...Subject) error {
	now := l.clock.Now()
	end, cur, prev := l.windows(now)
	keys := make([]string, len(subjects))
	curVals := make([]int64, len(subjects))
	for i, s := range subjects {
		keys[i] = l.prefix + s.Key
		// Noted before counting, so a concurrent Check never misses it.
		// It counts in the current window and, as the previous one, in
		// the next: until one window after the current one's end.
		l.noteFailure(s.Key, end.Add(l.window))
		v, err := l.store.AddToCounter(ctx, keys[i], cur, 1)
		if err != nil {
			return err
		}
		curVals[i] = v
	}
	prevSums, err := l.readPrev(ctx, keys, prev)
	if err != nil {
		return err
	}
	var limited error
	for i, s := range subjects {
		total := curVals[i] + prevSums[keys[i]]
		if total >= limitOf(s) {
			// From now on refuse without asking the store until the window ends.
			l.block(s.Key, end)
		}
		if total > limitOf(s) && limited == nil {
			limited = l.rateLimited(end, now)
		}
	}
	return limited
}

func (l *FailureLimiter) readPrev(ctx context.Context, keys []string, prev time.Time) (map[string]int64, error) {
	if r, ok := l.store.(CounterReader); ok {
		return r.ReadCounters(ctx, keys, []time.Time{prev})
	}
	out := make(map[string]int64, len(keys))
	for _, k := range keys {
		v, err := l.store.AddToCounter(ctx, k, prev, 0)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
