package core

import "sync"

// leaderQueue groups work submitted by concurrent callers into batches.
// There is no background goroutine: the first caller to find the queue idle
// leads a batch of everything queued; when that batch is decided and more
// work queued meanwhile, a new goroutine leads the next batch, so no caller
// waits for more than the batch it is in and the one before it. Token
// group commit and batched replay inserts both run on it.
type leaderQueue[T any] struct {
	// take returns how many items from the head of a non-empty queue form
	// the next batch (at least 1).
	take func(queue []T) int
	// commit decides every item of a batch (and signals its waiter).
	commit func(batch []T)

	mu    sync.Mutex
	queue []T
	busy  bool
}

// submit queues item and, when the queue was idle, leads batches until it
// is empty. The caller then waits on its own item's signal.
func (q *leaderQueue[T]) submit(item T) {
	q.mu.Lock()
	q.queue = append(q.queue, item)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		q.lead()
	}
}

func (q *leaderQueue[T]) lead() {
	q.mu.Lock()
	n := q.take(q.queue)
	batch := q.queue[:n:n]
	q.queue = q.queue[n:]
	q.mu.Unlock()

	q.commit(batch)

	q.mu.Lock()
	if len(q.queue) == 0 {
		q.busy = false
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	go q.lead() // hand over: this caller's own item is decided
}
