package core

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The memory replay cache is for a node that is alone on its store (SQLite):
// the set of used keys lives in process memory, where a check costs a map
// lookup instead of a database write on the request path. Durability:
//
//   - Before a key is accepted, the node has persisted, per namespace, a
//     horizon at least as late as the key's expiry (written once per Lead
//     and namespace, not per key).
//   - A clean stop writes every live key accepted since the start to the
//     store and records the stop as clean; the next start reloads them, so
//     nothing is forgotten.
//   - After an unclean stop (a crash, SIGKILL, power loss) the keys of that
//     run are lost, so the next start refuses, per namespace, every key
//     that expires no later than the persisted horizon: a message made
//     before the crash (or up to Lead after it) is refused as possibly
//     used, never accepted twice. Writing keys behind continuously would
//     not spare that fence (the last ones could always be lost) and cost
//     a database insert per request, the largest share of a PoP check.
//
// Nodes sharing PostgreSQL use the database mode instead: there the store
// is the shared truth and every check is one insert-if-absent.

const (
	replayStateCollection = "replay-state"
	replayStateID         = "memory"
	replayShards          = 64
	replayFlushChunk      = 512
)

// DocumentGetter reads one document.
type DocumentGetter interface {
	GetDocument(ctx context.Context, collection, id string) (Document, error)
}

// ReplayStateStore is what the memory replay cache needs from the store:
// the replay keys, and one document for its horizons and clean-stop mark.
type ReplayStateStore interface {
	ReplayStore
	DocumentGetter
	PutDocument(ctx context.Context, d Document) error
	UpdateDocument(ctx context.Context, d Document) (Document, error)
}

// MemoryReplayOptions tunes the memory replay cache; zero values take the defaults.
type MemoryReplayOptions struct {
	// MaxKeys bounds the keys held in memory (default 1,048,576, about
	// 200 MB with the list kept for the clean stop). Beyond it new keys
	// are checked in the store instead.
	MaxKeys int
	// Lead is how far past a key's expiry the horizon is persisted, so that
	// the horizon is written once per Lead and namespace, not per key
	// (default 10 s).
	Lead time.Duration
	Log  *slog.Logger
}

// replayState is the persisted document.
type replayState struct {
	Clean    bool                 `json:"clean"`
	Horizons map[string]time.Time `json:"horizons"`
}

type replayShard struct {
	mu   sync.Mutex
	keys map[[sha256.Size]byte]int64 // expiry, Unix nanoseconds
}

type memoryReplay struct {
	store   ReplayStateStore
	clock   Clock
	log     *slog.Logger
	opts    MemoryReplayOptions
	dbCheck func(ctx context.Context, key string, expires time.Time) (bool, error)

	shards [replayShards]replayShard
	count  atomic.Int64
	// dbUntil (Unix ns): until then, keys missing from memory are checked in
	// the store, because some live keys are only there (not loaded at
	// start-up, or inserted while memory was full).
	dbUntil atomic.Int64

	// horizons caches the persisted horizon per namespace (*atomic.Int64, Unix ns).
	horizons sync.Map
	stateMu  sync.Mutex // persisting horizons and the clean mark
	state    replayState
	stateDoc Document
	// pending holds the keys accepted since the start, written to the
	// store at a clean stop; expired ones are dropped by purge.
	pendingMu sync.Mutex
	pending   []ReplayEntry
}

// OpenMemoryReplay builds a replay cache held in memory over st: it reads
// the previous run's state (fencing after an unclean stop), reloads the
// live keys and marks the state unclean until Close writes this run's keys.
func OpenMemoryReplay(ctx context.Context, st ReplayStateStore, clock Clock, opts MemoryReplayOptions) (*Replay, error) {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1 << 20
	}
	if opts.Lead <= 0 {
		opts.Lead = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	db := NewReplay(st, clock)
	m := &memoryReplay{store: st, clock: clock, log: opts.Log, opts: opts, dbCheck: db.insert}
	for i := range m.shards {
		m.shards[i].keys = map[[sha256.Size]byte]int64{}
	}
	fence, err := m.openState(ctx)
	if err != nil {
		return nil, err
	}
	if rf, ok := st.(ReplayFencer); ok {
		// Keys a clean stop wrote to the store may since have been lost
		// with its replay table; this cache would not notice otherwise.
		sf, err := rf.ReplayFence(ctx, clock.Now())
		if err != nil {
			return nil, Wrap(KindUnavailable, "replay fence", err)
		}
		fence = mergeFences(fence, sf)
	}
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	db.mem, db.fence = m, fence
	return db, nil
}

// ReplayFencer is implemented by stores whose replay keys a database crash
// can lose (PostgreSQL's UNLOGGED replay table, guarded by durable
// horizons): ReplayFence returns, per namespace, the fence in force, the
// expiry up to which messages are refused because their keys may have
// been lost. The store applies it to its own inserts; a memory-mode cache,
// which decides without them, asks at start.
type ReplayFencer interface {
	ReplayFence(ctx context.Context, now time.Time) (map[string]time.Time, error)
}

// mergeFences returns the later fence of a and b per namespace.
func mergeFences(a, b map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(a)+len(b))
	for _, m := range []map[string]time.Time{a, b} {
		for ns, t := range m {
			if t.After(out[ns]) {
				out[ns] = t
			}
		}
	}
	return out
}

// fenceOf returns, per namespace, the horizon that messages must expire
// after when the previous run did not stop cleanly (nothing otherwise).
func fenceOf(prev replayState, now time.Time, log *slog.Logger) map[string]time.Time {
	fence := map[string]time.Time{}
	if prev.Clean {
		return fence
	}
	attrs := []any{}
	for ns, h := range prev.Horizons {
		if h.After(now) {
			fence[ns] = h
			attrs = append(attrs, slog.Time(ns, h))
		}
	}
	if len(fence) > 0 {
		log.Warn("replay cache: the previous memory-mode run did not stop cleanly; messages expiring before these horizons are refused as possibly used",
			slog.Group("horizons", attrs...))
	}
	return fence
}

// ApplyFence makes a replay cache in database mode honour the fence of a
// memory-mode run that stopped uncleanly on the same store (its keys were
// never written there). Without such a run it does nothing.
func (r *Replay) ApplyFence(ctx context.Context, st DocumentGetter, log *slog.Logger) error {
	prev, _, found, err := readReplayState(ctx, st)
	if err != nil || !found {
		return err
	}
	r.fence = fenceOf(prev, r.clock.Now(), log)
	return nil
}

// readReplayState reads the memory replay cache's document, if any.
func readReplayState(ctx context.Context, st DocumentGetter) (state replayState, doc Document, found bool, err error) {
	doc, err = st.GetDocument(ctx, replayStateCollection, replayStateID)
	switch {
	case KindOf(err) == KindNotFound:
		return state, doc, false, nil
	case err != nil:
		return state, doc, false, Wrap(KindUnavailable, "replay state", err)
	}
	if err := json.Unmarshal(doc.Data, &state); err != nil {
		return state, doc, false, Wrap(KindInternal, "replay state", err)
	}
	return state, doc, true, nil
}

// openState reads the previous run's state, keeps its live horizons, marks
// this run unclean, and returns the fence (empty after a clean stop).
func (m *memoryReplay) openState(ctx context.Context) (map[string]time.Time, error) {
	now := m.clock.Now()
	prev, doc, found, err := readReplayState(ctx, m.store)
	if err != nil {
		return nil, err
	}
	if !found {
		m.state = replayState{Horizons: map[string]time.Time{}}
		doc = Document{Collection: replayStateCollection, ID: replayStateID, Version: 1, CreatedAt: now, UpdatedAt: now}
		if doc.Data, err = json.Marshal(m.state); err != nil {
			return nil, err
		}
		if err := m.store.PutDocument(ctx, doc); err != nil {
			return nil, Wrap(KindUnavailable, "replay state", err)
		}
		m.stateDoc = doc
		return nil, nil
	}
	m.state = replayState{Horizons: map[string]time.Time{}}
	for ns, h := range prev.Horizons {
		if !h.After(now) {
			continue
		}
		// Kept even after a clean stop: a later crash must still fence them.
		m.state.Horizons[ns] = h
		v := new(atomic.Int64)
		v.Store(h.UnixNano())
		m.horizons.Store(ns, v)
	}
	m.stateDoc = doc
	return fenceOf(prev, now, m.log), m.saveState(ctx)
}

// saveState persists m.state; the caller holds stateMu or is alone.
func (m *memoryReplay) saveState(ctx context.Context) error {
	data, err := json.Marshal(m.state)
	if err != nil {
		return err
	}
	d := m.stateDoc
	d.Data = data
	d.UpdatedAt = m.clock.Now()
	nd, err := m.store.UpdateDocument(ctx, d)
	if KindOf(err) == KindConflict {
		// Our last update may have committed although it reported an
		// error: take the stored version and write ours over it once.
		if cur, gerr := m.store.GetDocument(ctx, replayStateCollection, replayStateID); gerr == nil {
			d.Version = cur.Version
			nd, err = m.store.UpdateDocument(ctx, d)
		}
		if KindOf(err) == KindConflict {
			m.log.Error("replay cache: its state is being changed by another process; the memory replay cache needs a node alone on its store (use replay mode database for several nodes)")
		}
	}
	if err != nil {
		return Wrap(KindUnavailable, "replay state", err)
	}
	m.stateDoc = nd
	return nil
}

// load reads the live keys of the store into memory, up to MaxKeys; when
// there are more, the rest stay authoritative in the store until they expire.
func (m *memoryReplay) load(ctx context.Context) error {
	now := m.clock.Now()
	var loaded, skipped int
	var skippedUntil int64
	err := m.store.ScanReplayKeys(ctx, now, func(key string, expires time.Time) error {
		if int(m.count.Load()) >= m.opts.MaxKeys {
			skipped++
			skippedUntil = max(skippedUntil, expires.UnixNano())
			return nil
		}
		id := sha256.Sum256([]byte(key))
		sh := &m.shards[id[0]%replayShards]
		if _, dup := sh.keys[id]; !dup {
			m.count.Add(1)
		}
		sh.keys[id] = expires.UnixNano()
		loaded++
		return nil
	})
	if err != nil {
		return Wrap(KindUnavailable, "load replay keys", err)
	}
	m.dbUntil.Store(skippedUntil)
	if loaded+skipped > 0 {
		m.log.Info("replay cache loaded", slog.Int("keys", loaded), slog.Int("left_in_store", skipped))
	}
	return nil
}

// errFenced is returned for a key that an unclean previous stop may have
// accepted without flushing it.
func errFenced(namespace string) error {
	return E(KindReplayed, namespace+" was made before this node's last unclean stop and cannot be proven unused; send a new one")
}

// remember is Replay.Remember in memory mode (after the fence check); k
// is the namespaced key.
func (m *memoryReplay) remember(ctx context.Context, namespace, k string, expires time.Time) (bool, error) {
	if err := m.lease(ctx, namespace, expires); err != nil {
		return false, err
	}
	id := sha256.Sum256([]byte(k))
	now := m.clock.Now().UnixNano()
	sh := &m.shards[id[0]%replayShards]
	sh.mu.Lock()
	exp, present := sh.keys[id]
	if present && exp > now {
		sh.mu.Unlock()
		return false, nil
	}
	if !present && (int(m.count.Load()) >= m.opts.MaxKeys || now < m.dbUntil.Load()) {
		// Memory is full, or some live keys are only in the store: the
		// store decides. Raising dbUntil before unlocking makes a racing
		// use of the same key take this path too.
		for {
			cur := m.dbUntil.Load()
			if expires.UnixNano() <= cur || m.dbUntil.CompareAndSwap(cur, expires.UnixNano()) {
				break
			}
		}
		sh.mu.Unlock()
		return m.dbCheck(ctx, k, expires)
	}
	if !present {
		m.count.Add(1)
	}
	sh.keys[id] = expires.UnixNano()
	sh.mu.Unlock()
	m.enqueue(ReplayEntry{Key: k, Expires: expires})
	return true, nil
}

// lease makes sure the namespace's persisted horizon covers expires.
func (m *memoryReplay) lease(ctx context.Context, namespace string, expires time.Time) error {
	want := expires.UnixNano()
	if v, ok := m.horizons.Load(namespace); ok && v.(*atomic.Int64).Load() >= want {
		return nil
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	v, _ := m.horizons.LoadOrStore(namespace, new(atomic.Int64))
	h := v.(*atomic.Int64)
	if h.Load() >= want {
		return nil
	}
	next := expires.Add(m.opts.Lead)
	m.state.Horizons[namespace] = next
	m.state.Clean = false // a key accepted after Close is not stored
	if err := m.saveState(ctx); err != nil {
		delete(m.state.Horizons, namespace)
		if h.Load() > 0 {
			m.state.Horizons[namespace] = time.Unix(0, h.Load())
		}
		return err
	}
	h.Store(next.UnixNano())
	return nil
}

func (m *memoryReplay) enqueue(e ReplayEntry) {
	m.pendingMu.Lock()
	m.pending = append(m.pending, e)
	m.pendingMu.Unlock()
}

// flush writes the pending keys to the store; keys that fail stay pending.
func (m *memoryReplay) flush(ctx context.Context) error {
	m.pendingMu.Lock()
	batch := m.pending
	m.pending = nil
	m.pendingMu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), replayFlushChunk)
		if err := m.write(ctx, batch[:n]); err != nil {
			m.pendingMu.Lock()
			m.pending = append(batch, m.pending...)
			m.pendingMu.Unlock()
			return err
		}
		batch = batch[n:]
	}
	return nil
}

func (m *memoryReplay) write(ctx context.Context, entries []ReplayEntry) error {
	now := m.clock.Now()
	// The outcome per key does not matter here: memory already decided.
	if b, ok := m.store.(ReplayBatcher); ok {
		_, err := b.InsertReplayKeys(ctx, entries, now)
		return err
	}
	for _, e := range entries {
		if _, err := m.store.InsertReplayKey(ctx, e.Key, e.Expires, now); err != nil {
			return err
		}
	}
	return nil
}

// purge drops expired keys from memory and from the list kept for the clean stop.
func (m *memoryReplay) purge() {
	now := m.clock.Now()
	cutoff := now.UnixNano()
	removed := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for id, exp := range sh.keys {
			if exp <= cutoff {
				delete(sh.keys, id)
				removed++
			}
		}
		sh.mu.Unlock()
	}
	m.count.Add(int64(-removed))
	m.pendingMu.Lock()
	m.pending = slices.DeleteFunc(m.pending, func(e ReplayEntry) bool { return !e.Expires.After(now) })
	m.pendingMu.Unlock()
}

func (m *memoryReplay) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			m.purge()
		}
	}
}

// close writes every key accepted since the start and, when all are
// stored, records a clean stop.
func (m *memoryReplay) close(ctx context.Context) error {
	m.purge()
	err := m.flush(ctx)
	for attempt := 1; err != nil && attempt < 3 && ctx.Err() == nil; attempt++ {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
			err = m.flush(ctx)
		}
	}
	if err != nil {
		return fmt.Errorf("replay cache: writing the keys at stop failed, the next start fences: %w", err)
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	m.state.Clean = true
	return m.saveState(ctx)
}

// Run purges expired keys from memory until ctx is cancelled. In
// database mode it only waits.
func (r *Replay) Run(ctx context.Context) error {
	if r.mem != nil {
		r.mem.run(ctx)
		return nil
	}
	<-ctx.Done()
	return nil
}

// Close ends a memory replay cache cleanly: this run's live keys are
// written to the store and the stop recorded as clean, so the next start
// reloads them and needs no fence. Call it after the listeners have
// drained. In database mode it does nothing.
func (r *Replay) Close(ctx context.Context) error {
	if r.mem == nil {
		return nil
	}
	return r.mem.close(ctx)
}

// MemoryKeys is the number of keys held in memory, and false in database
// mode (where the store's replay table is the cache).
func (r *Replay) MemoryKeys() (int, bool) {
	if r.mem == nil {
		return 0, false
	}
	return int(r.mem.count.Load()), true
}

// InMemory reports whether keys are decided in process memory.
func (r *Replay) InMemory() bool { return r.mem != nil }
