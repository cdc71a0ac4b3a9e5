package core

import (
	"context"
	"time"
)

// BatchWriter is implemented by stores that can commit tokens and audit
// events in one transaction. Tokens.Commit uses it to group the writes of
// concurrent requests (group commit): on SQLite, whose single writer
// otherwise commits once per row, this multiplies issuance throughput.
type BatchWriter interface {
	WriteBatch(ctx context.Context, tokens []Token, events []AuditEvent) error
}

// maxBatchRows bounds one grouped transaction (rows of tokens plus events).
const maxBatchRows = 512

// commitTimeout bounds one grouped transaction; requests sharing it must
// not depend on the context of whichever request happens to lead it.
const commitTimeout = 10 * time.Second

type pendingWrite struct {
	tokens []Token
	events []AuditEvent
	err    error
	done   chan struct{}
}

// groupCommitter batches concurrent token and audit writes on a leaderQueue.
type groupCommitter struct {
	w BatchWriter
	q leaderQueue[*pendingWrite]
}

func newGroupCommitter(w BatchWriter) *groupCommitter {
	g := &groupCommitter{w: w}
	g.q.take = func(queue []*pendingWrite) int {
		rows := 0
		for i, p := range queue {
			rows += len(p.tokens) + len(p.events)
			if rows > maxBatchRows && i > 0 {
				return i
			}
		}
		return len(queue)
	}
	g.q.commit = g.commit
	return g
}

func (g *groupCommitter) write(tokens []Token, events []AuditEvent) error {
	p := &pendingWrite{tokens: tokens, events: events, done: make(chan struct{})}
	g.q.submit(p)
	// Wait for the outcome even if the caller's context ends: the caller
	// must not report a token whose commit is undecided.
	<-p.done
	return p.err
}

func (g *groupCommitter) commit(batch []*pendingWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var tokens []Token
	var events []AuditEvent
	for _, p := range batch {
		tokens = append(tokens, p.tokens...)
		events = append(events, p.events...)
	}
	err := g.w.WriteBatch(ctx, tokens, events)
	if err != nil && len(batch) > 1 && KindOf(err) != KindUnavailable {
		// One bad write must not fail its neighbours: commit each alone.
		for _, p := range batch {
			p.err = g.w.WriteBatch(ctx, p.tokens, p.events)
			close(p.done)
		}
		return
	}
	for _, p := range batch {
		p.err = err
		close(p.done)
	}
}
