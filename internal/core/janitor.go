package core

import (
	"context"
	"log/slog"
	"time"
)

// JanitorStore is what the janitor purges.
type JanitorStore interface {
	PurgeReplayKeys(ctx context.Context, now time.Time) (int, error)
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
	PurgeCounters(ctx context.Context, now time.Time) (int, error)
}

// Janitor deletes what can no longer matter: expired replay keys, counters
// of ended windows, and tokens dead (expired past renewal, or revoked) for
// longer than Retention, kept that long so introspection and audits can
// still name them. Every node may run one; the deletes are idempotent.
type Janitor struct {
	Store     JanitorStore
	Clock     Clock
	Log       *slog.Logger
	Interval  time.Duration // default 1 minute
	Retention time.Duration // default 24 hours
}

// Sweep runs one purge pass and returns what it removed.
func (j *Janitor) Sweep(ctx context.Context) (replay, tokens, counters int, err error) {
	now := j.Clock.Now()
	retention := j.Retention
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	if replay, err = j.Store.PurgeReplayKeys(ctx, now); err != nil {
		return
	}
	if tokens, err = j.Store.PurgeTokens(ctx, now.Add(-retention)); err != nil {
		return
	}
	counters, err = j.Store.PurgeCounters(ctx, now)
	return
}

// Run sweeps every Interval until ctx is cancelled. Failures are logged and
// retried at the next tick: a purge that waits never loses data.
func (j *Janitor) Run(ctx context.Context) error {
	interval := j.Interval
	if interval <= 0 {
		interval = time.Minute
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
		switch {
		case err != nil && ctx.Err() == nil:
			j.Log.Warn("janitor sweep failed", slog.Any("err", err))
		case r+tk+c > 0:
			j.Log.Debug("janitor sweep", slog.Int("replay_keys", r), slog.Int("tokens", tk), slog.Int("counters", c))
		}
	}
}
