package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Bench runs the hot-path storage benchmarks on stores made by open:
// token create (one transaction per token, and grouped through
// core.Tokens.Commit), token lookup by hash, and replay insert; each
// sequential and parallel; and the janitor's purge of one batch of done
// outbox jobs beside failed ones it keeps.
func Bench(b *testing.B, open func(b *testing.B) core.Store) {
	ctx := context.Background()
	keys, err := core.NewKeyring(make([]byte, core.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	newTok := func(s *core.Tokens) core.Token {
		_, t := s.NewToken(core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
		return t
	}
	b.Run("TokenCreate", func(b *testing.B) {
		st := open(b)
		tokens := core.NewTokens(st, keys, core.SystemClock{})
		for b.Loop() {
			if err := st.CreateToken(ctx, newTok(tokens)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TokenCreateParallel", func(b *testing.B) {
		st := open(b)
		tokens := core.NewTokens(st, keys, core.SystemClock{})
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := st.CreateToken(ctx, newTok(tokens)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("TokenCommitGroupedParallel", func(b *testing.B) {
		st := open(b)
		tokens := core.NewTokens(st, keys, core.SystemClock{})
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t := newTok(tokens)
				ev := core.AuditEvent{Action: core.AuditIssue, Protocol: "bench", Subject: t.ID}
				if err := tokens.Commit(ctx, []core.Token{t}, []core.AuditEvent{ev}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	lookup := func(b *testing.B, parallel bool) {
		st := open(b)
		tokens := core.NewTokens(st, keys, core.SystemClock{})
		const n = 1000
		hashes := make([][]byte, n)
		for i := range hashes {
			t := newTok(tokens)
			if err := st.CreateToken(ctx, t); err != nil {
				b.Fatal(err)
			}
			hashes[i] = t.Hash
		}
		b.ResetTimer()
		if !parallel {
			i := 0
			for b.Loop() {
				if _, err := st.GetTokenByHash(ctx, hashes[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			return
		}
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := st.GetTokenByHash(ctx, hashes[i%n]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	}
	b.Run("TokenLookup", func(b *testing.B) { lookup(b, false) })
	b.Run("TokenLookupParallel", func(b *testing.B) { lookup(b, true) })
	b.Run("JobPurgeBatch", func(b *testing.B) {
		// One op: delete a batch of 5000 done jobs (the janitor's batch)
		// from an outbox that also holds 5000 failed jobs within their
		// retention, which the statement must not read through.
		const batch, kept = 5000, 5000
		st := open(b)
		t0 := time.Unix(1_700_000_000, 0)
		enqueue := func(id string, finish func(string) error) {
			if err := st.EnqueueJob(ctx, core.Job{ID: id, Queue: "bench", Payload: []byte(`{}`), RunAt: t0, CreatedAt: t0}); err != nil {
				b.Fatal(err)
			}
			if err := finish(id); err != nil {
				b.Fatal(err)
			}
		}
		for i := range kept {
			enqueue(fmt.Sprint("failed-", i), func(id string) error { return st.FailJob(ctx, id, t0, "gave up") })
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			for k := range batch {
				enqueue(fmt.Sprint("done-", i, "-", k), func(id string) error { return st.CompleteJob(ctx, id, t0) })
			}
			b.StartTimer()
			n, err := st.PurgeJobs(ctx, core.JobDone, t0.Add(time.Second), batch)
			if err != nil || n != batch {
				b.Fatalf("PurgeJobs = %d, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("ReplayInsert", func(b *testing.B) {
		st := open(b)
		exp := time.Now().Add(time.Hour)
		for b.Loop() {
			if _, err := st.InsertReplayKey(ctx, fmt.Sprint("k", seq.Add(1)), exp, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReplayInsertParallel", func(b *testing.B) {
		st := open(b)
		exp := time.Now().Add(time.Hour)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := st.InsertReplayKey(ctx, fmt.Sprint("k", seq.Add(1)), exp, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
