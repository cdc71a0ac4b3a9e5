package core

import (
	"context"
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

// replayGroup batches concurrent replay inserts on a leaderQueue, as
// groupCommitter does for token writes.
type replayGroup struct {
	b     ReplayBatcher
	clock Clock
	q     leaderQueue[*pendingReplay]
}

const maxReplayBatch = 512

func newReplayGroup(b ReplayBatcher, clock Clock) *replayGroup {
	g := &replayGroup{b: b, clock: clock}
	g.q.take = func(queue []*pendingReplay) int { return min(len(queue), maxReplayBatch) }
	g.q.commit = g.commit
	return g
}

func (g *replayGroup) insert(e ReplayEntry) (bool, error) {
	p := &pendingReplay{entry: e, done: make(chan struct{})}
	g.q.submit(p)
	<-p.done // the outcome is decided even if the caller gave up
	return p.fresh, p.err
}

func (g *replayGroup) commit(batch []*pendingReplay) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	entries := make([]ReplayEntry, len(batch))
	for i, p := range batch {
		entries[i] = p.entry
	}
	fresh, err := g.b.InsertReplayKeys(ctx, entries, g.clock.Now())
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.fresh = fresh[i]
		}
		close(p.done)
	}
}
