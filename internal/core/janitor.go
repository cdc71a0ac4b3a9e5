package core

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// JanitorStore is what the janitor purges.
type JanitorStore interface {
	PurgeReplayKeys(ctx context.Context, now time.Time) (int, error)
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
	PurgeCounters(ctx context.Context, now time.Time) (int, error)
	PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// Janitor deletes what can no longer matter: expired replay keys, counters
// of ended windows, and tokens dead (expired past renewal, or revoked) for
// longer than Retention, kept that long so introspection and audits can
// still name them, and audit events older than AuditRetention. Every node
// may run one; the deletes are idempotent.
type Janitor struct {
	Store     JanitorStore
	Clock     Clock
	Log       *slog.Logger
	Interval  time.Duration // default 1 minute
	Retention time.Duration // default 24 hours
	// AuditRetention is how long audit events are kept; 0 keeps them forever.
	AuditRetention time.Duration
}

// auditPurgeBatch bounds one audit delete statement, so a backlog (a
// retention shortened on a large log) is removed in short transactions.
const auditPurgeBatch = 5000

// auditPurgeMaxBatches bounds one sweep's audit purge; the next sweep
// continues where it stopped.
const auditPurgeMaxBatches = 200

// SweepAudit deletes the audit events older than AuditRetention, in
// batches of auditPurgeBatch, and returns how many it deleted.
func (j *Janitor) SweepAudit(ctx context.Context) (int, error) {
	if j.AuditRetention <= 0 {
		return 0, nil
	}
	before := j.Clock.Now().Add(-j.AuditRetention)
	total := 0
	for i := 0; i < auditPurgeMaxBatches; i++ {
		n, err := j.Store.PurgeAudit(ctx, before, auditPurgeBatch)
		total += n
		if err != nil || n < auditPurgeBatch {
			return total, err
		}
	}
	return total, nil
}

// Sweep runs one purge pass and returns what it removed. A failing purge
// does not keep the others from running; their errors are joined.
func (j *Janitor) Sweep(ctx context.Context) (replay, tokens, counters int, err error) {
	now := j.Clock.Now()
	retention := j.Retention
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	replay, errReplay := j.Store.PurgeReplayKeys(ctx, now)
	tokens, errTokens := j.Store.PurgeTokens(ctx, now.Add(-retention))
	counters, errCounters := j.Store.PurgeCounters(ctx, now)
	return replay, tokens, counters, errors.Join(errReplay, errTokens, errCounters)
}

// Run sweeps every Interval until ctx is cancelled, then returns nil.
// Failures are logged and retried at the next tick: a purge that waits
// never loses data.
func (j *Janitor) Run(ctx context.Context) error {
	interval := j.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	log := j.Log
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		r, tk, c, err := j.Sweep(ctx)
		a, errAudit := j.SweepAudit(ctx)
		err = errors.Join(err, errAudit)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("janitor sweep failed", slog.Any("err", err))
		case r+tk+c+a > 0:
			log.Debug("janitor sweep", slog.Int("replay_keys", r), slog.Int("tokens", tk), slog.Int("counters", c), slog.Int("audit_events", a))
		}
	}
}
