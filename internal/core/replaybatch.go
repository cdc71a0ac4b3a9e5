package core

import (
	"context"
	"sync"
	"time"
)

// ReplayEntry is one key of a batched replay insert.
type ReplayEntry struct {
	Key     string
	Expires time.Time
}

// ReplayBatcher is implemented by stores that insert many replay keys in
// one transaction. Replay uses it to group the inserts of concurrent
// requests: on SQLite, whose single writer commits once per statement
// otherwise, this multiplies signed-request throughput, and every key is
// still committed before its request is answered.
type ReplayBatcher interface {
	InsertReplayKeys(ctx context.Context, entries []ReplayEntry, now time.Time) ([]bool, error)
}

type pendingReplay struct {
	entry ReplayEntry
	fresh bool
	err   error
	done  chan struct{}
}

// replayGroup batches concurrent replay inserts the way groupCommitter
// batches token writes: the first caller to find it idle leads a batch of
// everything queued, and hands over to a new leader if more queued meanwhile.
type replayGroup struct {
	b     ReplayBatcher
	clock Clock

	mu    sync.Mutex
	queue []*pendingReplay
	busy  bool
}

const maxReplayBatch = 512

func (g *replayGroup) insert(e ReplayEntry) (bool, error) {
	p := &pendingReplay{entry: e, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	<-p.done // the outcome is decided even if the caller gave up
	return p.fresh, p.err
}

func (g *replayGroup) lead() {
	g.mu.Lock()
	n := min(len(g.queue), maxReplayBatch)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	entries := make([]ReplayEntry, len(batch))
	for i, p := range batch {
		entries[i] = p.entry
	}
	fresh, err := g.b.InsertReplayKeys(ctx, entries, g.clock.Now())
	cancel()
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.fresh = fresh[i]
		}
		close(p.done)
	}

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.busy = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.lead()
}
