package core_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

func TestJanitorSweep(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	j := &core.Janitor{Store: svc.Store, Clock: clock, Log: svc.Log, Retention: time.Hour}

	if err := svc.Replay.Remember(ctx, "jti", "short", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := svc.Replay.Remember(ctx, "jti", "long", start.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, short, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, long, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.AddToCounter(ctx, "k", start.Add(time.Minute), 1); err != nil {
		t.Fatal(err)
	}

	clock.Advance(30 * time.Minute) // short token expired, but still within retention
	r, tk, c, err := j.Sweep(ctx)
	if err != nil || r != 1 || tk != 0 || c != 1 {
		t.Fatalf("first sweep = %d replay, %d tokens, %d counters, %v", r, tk, c, err)
	}
	clock.Advance(time.Hour) // now past retention
	if _, tk, _, err = j.Sweep(ctx); err != nil || tk != 1 {
		t.Fatalf("second sweep purged %d tokens, %v", tk, err)
	}
	if _, err := svc.Store.GetToken(ctx, short.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("dead token kept: %v", err)
	}
	if _, err := svc.Store.GetToken(ctx, long.ID); err != nil {
		t.Fatalf("live token purged: %v", err)
	}
	if err := svc.Replay.Remember(ctx, "jti", "long", start.Add(3*time.Hour)); !errors.Is(err, core.ErrReplayed) {
		t.Fatalf("live replay key purged: %v", err)
	}
}

// failingReplayPurge is a JanitorStore whose replay purge always fails.
type failingReplayPurge struct{ core.JanitorStore }

func (failingReplayPurge) PurgeReplayKeys(context.Context, time.Time) (int, error) {
	return 0, core.E(core.KindUnavailable, "database busy")
}

func TestJanitorSweepContinuesPastAFailure(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	if _, err := svc.Store.AddToCounter(ctx, "k", start.Add(time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	j := &core.Janitor{Store: failingReplayPurge{svc.Store}, Clock: clock, Log: svc.Log}
	_, _, counters, err := j.Sweep(ctx)
	if !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("error = %v, want the replay purge's unavailable", err)
	}
	if counters != 1 {
		t.Fatalf("counters purged = %d, want 1 despite the failed replay purge", counters)
	}
}

// Run sweeps on every tick (observed through the real store: an ended
// counter window disappears) and returns nil once ctx is cancelled.
func TestJanitorRunSweepsUntilCancelled(t *testing.T) {
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	window := start.Add(time.Minute)
	if _, err := svc.Store.AddToCounter(ctx, "k", window, 5); err != nil {
		t.Fatal(err)
	}
	j := &core.Janitor{Store: svc.Store, Clock: clock, Log: svc.Log, Interval: 5 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()

	clock.Advance(2 * time.Minute) // the window has ended: the next tick purges it
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Adding 0 reads the counter (re-creating it at 0 once purged).
		v, err := svc.Store.AddToCounter(ctx, "k", window, 0)
		if err != nil {
			t.Fatal(err)
		}
		if v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("janitor did not purge the ended counter window within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("janitor did not stop after cancel")
	}
}

func TestJanitorSweepAuditKeepsRetention(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	for i := 0; i < 3; i++ {
		if err := svc.Store.AppendAudit(ctx, core.AuditEvent{At: start.Add(time.Duration(i) * time.Hour), Action: core.AuditIssue, Protocol: "oauth2", Outcome: core.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		retention time.Duration
		advance   time.Duration
		removed   int
		left      int
	}{
		{"zero retention keeps everything", 0, 10 * time.Hour, 0, 3},
		{"nothing older than the retention yet", 24 * time.Hour, 0, 0, 3},
		{"the oldest two fall out", 24 * time.Hour, 16 * time.Hour, 2, 1},
		{"a second sweep finds nothing more", 24 * time.Hour, 0, 0, 1},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		j := &core.Janitor{Store: svc.Store, Clock: clock, Log: svc.Log, AuditRetention: tt.retention}
		n, err := j.SweepAudit(ctx)
		if err != nil || n != tt.removed {
			t.Fatalf("%s: removed %d, %v; want %d", tt.name, n, err, tt.removed)
		}
		if left, _ := svc.Store.ListAudit(ctx, core.AuditFilter{}); len(left) != tt.left {
			t.Fatalf("%s: %d events left, want %d", tt.name, len(left), tt.left)
		}
	}
}

// The janitor purges done jobs after their retention and failed ones after
// theirs (the longer one: they can still be requeued), measured on the
// injected clock from when each finished; pending jobs stay whatever
// their age.
func TestJanitorSweepJobsKeepsRetentions(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	for _, id := range []string{"done", "failed", "pending", "requeued"} {
		if err := svc.Store.EnqueueJob(ctx, core.Job{ID: id, Queue: "q", Payload: []byte(`{}`), RunAt: start, CreatedAt: start}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Store.CompleteJob(ctx, "done", start); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"failed", "requeued"} {
		if err := svc.Store.FailJob(ctx, id, start, "gave up"); err != nil {
			t.Fatal(err)
		}
	}
	j := &core.Janitor{Store: svc.Store, Clock: clock, Log: svc.Log, DoneJobRetention: 24 * time.Hour, FailedJobRetention: 7 * 24 * time.Hour}
	tests := []struct {
		name         string
		advance      time.Duration
		done, failed int
		left         []string
	}{
		{"nothing past a retention yet", 23 * time.Hour, 0, 0, []string{"done", "failed", "pending", "requeued"}},
		{"the done job falls out", 2 * time.Hour, 1, 0, []string{"failed", "pending", "requeued"}},
		{"a failed job is kept for its week", 5 * 24 * time.Hour, 0, 0, []string{"failed", "pending", "requeued"}},
		{"the failed job falls out", 2 * 24 * time.Hour, 0, 1, []string{"pending", "requeued"}},
		{"pending jobs stay whatever their age", 365 * 24 * time.Hour, 0, 0, []string{"pending", "requeued"}},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		if tt.name == "a failed job is kept for its week" {
			// Requeued within its retention: pending again, out of the purge's reach.
			if err := svc.Store.RequeueJob(ctx, "requeued", clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		done, failed, err := j.SweepJobs(ctx)
		if err != nil || done != tt.done || failed != tt.failed {
			t.Fatalf("%s: removed %d done, %d failed, %v; want %d, %d", tt.name, done, failed, err, tt.done, tt.failed)
		}
		var left []string
		for _, id := range []string{"done", "failed", "pending", "requeued"} {
			if _, err := svc.Store.GetJob(ctx, id); err == nil {
				left = append(left, id)
			} else if !errors.Is(err, core.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if !slices.Equal(left, tt.left) {
			t.Fatalf("%s: jobs left %v, want %v", tt.name, left, tt.left)
		}
	}

	// Zero retentions keep finished jobs forever.
	if err := svc.Store.CompleteJob(ctx, "pending", clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * 365 * 24 * time.Hour)
	keep := &core.Janitor{Store: svc.Store, Clock: clock, Log: svc.Log}
	if done, failed, err := keep.SweepJobs(ctx); err != nil || done+failed != 0 {
		t.Fatalf("zero retentions removed %d done, %d failed, %v", done, failed, err)
	}
}

// batchCountingStore is a JanitorStore whose job purge reports a full
// batch every time, recording each call's state and limit.
type batchCountingStore struct {
	core.JanitorStore
	calls map[string][]int
	fail  string // the state whose purge fails
}

func (s *batchCountingStore) PurgeJobs(_ context.Context, state string, _ time.Time, limit int) (int, error) {
	s.calls[state] = append(s.calls[state], limit)
	if state == s.fail {
		return 0, core.E(core.KindUnavailable, "database busy")
	}
	return limit, nil
}

// A backlog is purged in bounded statements, a bounded number per sweep;
// a failing state does not keep the other from its purge.
func TestJanitorSweepJobsBatches(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	st := &batchCountingStore{JanitorStore: svc.Store, calls: map[string][]int{}, fail: core.JobDone}
	j := &core.Janitor{Store: st, Clock: clock, Log: svc.Log, DoneJobRetention: time.Hour, FailedJobRetention: time.Hour}
	done, failed, err := j.SweepJobs(ctx)
	if !errors.Is(err, core.ErrUnavailable) || done != 0 {
		t.Fatalf("SweepJobs = %d done, %v; want the done purge's unavailable", done, err)
	}
	if got := st.calls[core.JobDone]; len(got) != 1 {
		t.Fatalf("failing done purge called %d times, want once", len(got))
	}
	calls := st.calls[core.JobFailed]
	if len(calls) == 0 || len(calls) > 1000 {
		t.Fatalf("failed purge called %d times in one sweep, want a bounded number", len(calls))
	}
	for _, limit := range calls {
		if limit <= 0 || limit > 10000 {
			t.Fatalf("a purge statement's limit is %d, want a bounded batch", limit)
		}
	}
	if failed != len(calls)*calls[0] {
		t.Fatalf("failed jobs removed = %d, want the sum of %d batches", failed, len(calls))
	}
}
