package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// FencedReplayDialect is implemented by dialects whose replay table is not
// crash-safe (PostgreSQL: UNLOGGED, so a replay insert commits without
// waiting for the WAL to reach the disk) and is therefore guarded by a
// durable horizon fence, the rule the memory replay cache follows on one
// node, kept here for all nodes sharing the database:
//
//   - Before a key of namespace ns expiring at e is reported fresh, the
//     horizon of ns in a crash-safe table is at least e; the same statement
//     raises it (to e plus replayLead) when this store has not raised it
//     that far yet, so the durable write happens once per replayLead and
//     namespace, not per key.
//   - The replay table holds an epoch row, written when the fence is set
//     up. A database crash (or a failover to a standby, which has no
//     unlogged data) empties both; every insert statement also reads the
//     epoch, so the first statement after the loss sees it missing.
//   - The store that sees it missing sets the fence, in one transaction
//     under an advisory lock: each namespace's fence becomes its horizon,
//     and a new epoch is written. Every store that sees an epoch it does
//     not know reads the fences again before deciding.
//   - A key is fresh only if the statement inserted it and it expires
//     after its namespace's fence: a message whose key may have been
//     accepted before the loss is refused, never accepted twice. Messages
//     made more than replayLead after the crash are not affected.
//
// Namespaces are the text of a key before its last ':' (core.Replay names
// keys namespace:hash).
type FencedReplayDialect interface {
	// InsertReplayKeysQuery raises horizons and inserts keys in one
	// statement. Arguments: keys text[] (distinct, sorted), expires
	// bigint[], now bigint, namespaces text[] (distinct, sorted), horizons
	// bigint[]. Rows: (key, NULL) per fresh key and (NULL, epoch) when the
	// epoch row exists.
	InsertReplayKeysQuery() string
	// ReplayFenceQueries are the statements that set up and read the fence.
	ReplayFenceQueries() ReplayFenceQueries
}

// ReplayFenceQueries are a FencedReplayDialect's fence statements.
type ReplayFenceQueries struct {
	Lock     string // takes a transaction lock serialising fence set-up
	Epoch    string // the epoch row's value (no row: lost)
	Fence    string // every namespace's fence becomes at least its horizon
	SetEpoch string // writes the epoch row; argument: the new epoch
	Fences   string // (namespace, fence) of fences later than the argument
}

// replayLead is how far past a key's expiry a horizon is raised, so that a
// busy namespace costs one durable write per replayLead and node.
const replayLead = 10 * time.Second

// replayFence is a store's view of the fence.
type replayFence struct {
	mu     sync.Mutex
	epoch  string           // last epoch seen; "" before the first statement
	fences map[string]int64 // namespace -> fence (store time units)
	raised map[string]int64 // namespace -> horizon this store made durable
}

func replayNamespace(key string) string {
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		return key[:i]
	}
	return ""
}

// insertReplayFenced inserts a batch through a FencedReplayDialect.
func (s *Store) insertReplayFenced(ctx context.Context, fd FencedReplayDialect, entries []core.ReplayEntry, now time.Time) ([]bool, error) {
	// Keys go distinct (the first occurrence decides, the later ones are
	// replays of it) and sorted, so concurrent batches of other nodes take
	// row locks in one order and cannot deadlock.
	first := make(map[string]int, len(entries))
	keys := make([]string, 0, len(entries))
	for i, e := range entries {
		if _, dup := first[e.Key]; !dup {
			first[e.Key] = i
			keys = append(keys, e.Key)
		}
	}
	slices.Sort(keys)
	exps := make([]int64, len(keys))
	need := map[string]int64{}
	for i, k := range keys {
		exps[i] = ts(entries[first[k]].Expires)
		ns := replayNamespace(k)
		need[ns] = max(need[ns], exps[i])
	}
	f := &s.fence
	f.mu.Lock()
	var nss []string
	for ns, e := range need {
		if f.raised[ns] < e {
			nss = append(nss, ns)
		}
	}
	f.mu.Unlock()
	slices.Sort(nss)
	horizons := make([]int64, len(nss))
	for i, ns := range nss {
		horizons[i] = need[ns] + replayLead.Microseconds()
	}

	rows, err := s.writeQuery(ctx, fd.InsertReplayKeysQuery(), keys, exps, ts(now), nss, horizons)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fresh := make([]bool, len(entries))
	epoch := ""
	for rows.Next() {
		var k, ep sql.NullString
		if err := rows.Scan(&k, &ep); err != nil {
			return nil, s.err(err)
		}
		if ep.Valid {
			epoch = ep.String
		} else if i, ok := first[k.String]; ok && k.Valid {
			fresh[i] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(err)
	}
	rows.Close()

	f.mu.Lock()
	for i, ns := range nss { // committed with the statement
		f.raised[ns] = max(f.raised[ns], horizons[i])
	}
	known := f.epoch
	f.mu.Unlock()
	if epoch == "" || epoch != known {
		if err := s.syncFence(ctx, fd.ReplayFenceQueries(), epoch, now); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range entries {
		if fresh[i] && ts(e.Expires) <= f.fences[replayNamespace(e.Key)] {
			fresh[i] = false // may have been accepted before the replay table was lost
		}
	}
	return fresh, nil
}

// syncFence brings this store's fence up to date after a statement saw
// epoch ("" when the epoch row was missing: the replay table was lost, and
// the fence is set up unless another store did it meanwhile).
func (s *Store) syncFence(ctx context.Context, q ReplayFenceQueries, epoch string, now time.Time) error {
	if epoch == "" {
		var err error
		if epoch, err = s.setUpFence(ctx, q); err != nil {
			return err
		}
	}
	rows, err := s.write.QueryContext(ctx, s.rb(q.Fences), ts(now))
	if err != nil {
		return s.err(err)
	}
	defer rows.Close()
	fences := map[string]int64{}
	for rows.Next() {
		var ns string
		var fence int64
		if err := rows.Scan(&ns, &fence); err != nil {
			return s.err(err)
		}
		fences[ns] = fence
	}
	if err := rows.Err(); err != nil {
		return s.err(err)
	}
	f := &s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch, f.fences = epoch, fences
	return nil
}

// setUpFence sets the fence after the replay table was lost, unless
// another store did it first, and returns the epoch now in force.
func (s *Store) setUpFence(ctx context.Context, q ReplayFenceQueries) (string, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", s.err(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, q.Lock); err != nil {
		return "", s.err(err)
	}
	var epoch string
	switch err := tx.QueryRowContext(ctx, q.Epoch).Scan(&epoch); {
	case err == nil: // another store set it up meanwhile
		return epoch, s.err(tx.Commit())
	case !errorsIsNoRows(err):
		return "", s.err(err)
	}
	if _, err := tx.ExecContext(ctx, q.Fence); err != nil {
		return "", s.err(err)
	}
	epoch = core.NewSortableID(time.Now())
	if _, err := tx.ExecContext(ctx, s.rb(q.SetEpoch), epoch); err != nil {
		return "", s.err(err)
	}
	if err := tx.Commit(); err != nil {
		return "", s.err(err)
	}
	return epoch, nil
}

func errorsIsNoRows(err error) bool { return err == sql.ErrNoRows }

// ReplayFence returns, per namespace, the fence in force (core.ReplayFencer):
// messages expiring no later are refused because their keys may have been
// lost with the replay table. A memory-mode cache on this store asks at
// start, since it decides keys without the insert statement that would
// otherwise notice the loss. Stores with a crash-safe replay table have none.
func (s *Store) ReplayFence(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	fd, ok := s.d.(FencedReplayDialect)
	if !ok {
		return nil, nil
	}
	q := fd.ReplayFenceQueries()
	var epoch string
	switch err := s.write.QueryRowContext(ctx, q.Epoch).Scan(&epoch); {
	case errorsIsNoRows(err):
		epoch = ""
	case err != nil:
		return nil, s.err(err)
	}
	if err := s.syncFence(ctx, q, epoch, now); err != nil {
		return nil, err
	}
	s.fence.mu.Lock()
	defer s.fence.mu.Unlock()
	out := make(map[string]time.Time, len(s.fence.fences))
	for ns, f := range s.fence.fences {
		out[ns] = fromTS(f)
	}
	return out, nil
}
