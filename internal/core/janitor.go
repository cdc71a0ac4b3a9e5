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
	PurgeJobs(ctx context.Context, state string, before time.Time, limit int) (int, error)
}

// Janitor deletes what can no longer matter: expired replay keys, counters
// of ended windows, and tokens dead (expired past renewal, or revoked) for
// longer than Retention, kept that long so introspection and audits can
// still name them, audit events older than AuditRetention, and finished
// outbox jobs: done ones after DoneJobRetention, failed ones after
// FailedJobRetention. Every node may run one; the deletes are idempotent.
type Janitor struct {
	Store     JanitorStore
	Clock     Clock
	Log       *slog.Logger
	Interval  time.Duration // default 1 minute
	Retention time.Duration // default 24 hours
	// AuditRetention is how long audit events are kept; 0 keeps them forever.
	AuditRetention time.Duration
	// DoneJobRetention is how long a delivered job stays listed in the
	// outbox; FailedJobRetention how long a failed one can still be
	// requeued. 0 keeps them forever. Pending jobs are never purged.
	DoneJobRetention, FailedJobRetention time.Duration
}

// purgeBatch bounds one audit or job delete statement, so a backlog (a
// retention shortened on a large table) is removed in short transactions.
const purgeBatch = 5000

// purgeMaxBatches bounds one sweep's purge of one table (or job state);
// the next sweep continues where it stopped.
const purgeMaxBatches = 200

// purgeBatches calls purge until it deletes fewer than purgeBatch rows,
// at most purgeMaxBatches times, and returns the rows deleted.
func purgeBatches(purge func(limit int) (int, error)) (int, error) {
	total := 0
	for i := 0; i < purgeMaxBatches; i++ {
		n, err := purge(purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
	return total, nil
}

// SweepAudit deletes the audit events older than AuditRetention, in
// batches of purgeBatch, and returns how many it deleted.
func (j *Janitor) SweepAudit(ctx context.Context) (int, error) {
	if j.AuditRetention <= 0 {
		return 0, nil
	}
	before := j.Clock.Now().Add(-j.AuditRetention)
	return purgeBatches(func(limit int) (int, error) { return j.Store.PurgeAudit(ctx, before, limit) })
}

// SweepJobs deletes the outbox jobs done before DoneJobRetention and
// failed before FailedJobRetention, in batches of purgeBatch, and
// returns how many of each it deleted. A failing state does not keep the
// other from being purged.
func (j *Janitor) SweepJobs(ctx context.Context) (done, failed int, err error) {
	now := j.Clock.Now()
	purge := func(state string, retention time.Duration) (int, error) {
		if retention <= 0 {
			return 0, nil
		}
		before := now.Add(-retention)
		return purgeBatches(func(limit int) (int, error) { return j.Store.PurgeJobs(ctx, state, before, limit) })
	}
	done, errDone := purge(JobDone, j.DoneJobRetention)
	failed, errFailed := purge(JobFailed, j.FailedJobRetention)
	return done, failed, errors.Join(errDone, errFailed)
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
		jd, jf, errJobs := j.SweepJobs(ctx)
		err = errors.Join(err, errAudit, errJobs)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("janitor sweep failed", slog.Any("err", err))
		case r+tk+c+a+jd+jf > 0:
			log.Debug("janitor sweep", slog.Int("replay_keys", r), slog.Int("tokens", tk), slog.Int("counters", c), slog.Int("audit_events", a),
				slog.Int("done_jobs", jd), slog.Int("failed_jobs", jf))
		}
	}
}
