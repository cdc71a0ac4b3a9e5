package telemetry

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// RecentMinutes is how far back Recent counts: the dashboard's last hour.
const RecentMinutes = 60

// maxRecentFamilies bounds the families Recent tells apart; the names
// are the adapters' constants, so the bound is never reached in practice,
// and anything beyond it is counted under OtherFamily.
const maxRecentFamilies = 32

// OtherFamily counts the families beyond maxRecentFamilies.
const OtherFamily = "other"

// Recent is the core.Observer behind the console's dashboard: per
// protocol family, the authentications (requests), the refused ones
// (denials) and the refusals of the limiters (a rate_limited outcome:
// the failed-authentication limiter and the per-address bucket), per
// minute over the last hour, counted by this node.
//
// Memory is fixed: one ring of RecentMinutes slots per family. An
// observation costs a clock read, a short scan of the families and
// atomic adds, without allocating; a slot is reset under its own lock
// once per minute, when the first observation of a new minute reaches it.
type Recent struct {
	clock core.Clock

	mu   sync.Mutex // adding a family
	fams atomic.Pointer[[]*familyRing]
}

var _ core.Observer = (*Recent)(nil)

type familyRing struct {
	name  string
	slots [RecentMinutes]minuteSlot
}

// minuteSlot counts one minute; minute is the Unix minute it counts
// (minutes since the epoch), so a slot left over from an hour ago is
// told apart from the current one.
type minuteSlot struct {
	mu                         sync.Mutex
	minute                     atomic.Int64
	requests, denials, limited atomic.Int64
}

// NewRecent builds the counters on clock.
func NewRecent(clock core.Clock) *Recent {
	r := &Recent{clock: clock}
	empty := []*familyRing{}
	r.fams.Store(&empty)
	return r
}

// unixMinute is the minute t falls in.
func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// AuthOutcome implements core.Observer.
func (r *Recent) AuthOutcome(family, _ string, err error) {
	f := r.family(family)
	m := unixMinute(r.clock.Now())
	s := &f.slots[slotOf(m)]
	if s.minute.Load() != m && !s.roll(m) {
		return // an observation older than the slot's minute (a clock stepped back): not counted
	}
	s.requests.Add(1)
	if err != nil {
		s.denials.Add(1)
		if kindOf(err) == core.KindRateLimited {
			s.limited.Add(1)
		}
	}
}

// kindOf is core.KindOf without its allocation (errors.As moves its
// target to the heap): the first *core.Error in err's tree decides.
func kindOf(err error) core.Kind {
	switch e := err.(type) {
	case nil:
		return core.KindInternal
	case *core.Error:
		return e.Kind
	case interface{ Unwrap() error }:
		return kindOf(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if k := kindOf(inner); k != core.KindInternal || isCoreError(inner) {
				return k
			}
		}
	}
	return core.KindInternal
}

// isCoreError reports whether err's tree holds a *core.Error.
func isCoreError(err error) bool {
	switch e := err.(type) {
	case *core.Error:
		return true
	case interface{ Unwrap() error }:
		return isCoreError(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if isCoreError(inner) {
				return true
			}
		}
	}
	return false
}

func slotOf(m int64) int64 {
	i := m % RecentMinutes
	if i < 0 {
		i += RecentMinutes
	}
	return i
}

// roll makes s count minute m, reporting false when s already counts a
// later minute.
func (s *minuteSlot) roll(m int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cur := s.minute.Load(); {
	case cur == m:
		return true // another observation rolled it meanwhile
	case cur > m:
		return false
	}
	// Reset before publishing the minute: an observation that sees m
	// counts into the fresh slot, never into the old counts.
	s.requests.Store(0)
	s.denials.Store(0)
	s.limited.Store(0)
	s.minute.Store(m)
	return true
}

// family returns the ring of name, adding it on its first observation.
func (r *Recent) family(name string) *familyRing {
	for _, f := range *r.fams.Load() {
		if f.name == name {
			return f
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.fams.Load()
	for _, f := range cur {
		if f.name == name {
			return f
		}
	}
	if len(cur) >= maxRecentFamilies {
		name = OtherFamily
		for _, f := range cur {
			if f.name == name {
				return f
			}
		}
	}
	f := &familyRing{name: name}
	for i := range f.slots {
		f.slots[i].minute.Store(-1 << 62) // no minute yet
	}
	next := make([]*familyRing, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, f)
	r.fams.Store(&next)
	return f
}

// TokensIssued implements core.Observer (not on the dashboard).
func (*Recent) TokensIssued(core.TokenKind, int) {}

// TokensRevoked implements core.Observer (not on the dashboard).
func (*Recent) TokensRevoked(int) {}

// ReplayRefused implements core.Observer (not on the dashboard).
func (*Recent) ReplayRefused(string) {}

// AuthLimited implements core.Observer. It counts nothing: every refusal
// of the failed-authentication limiter is also the rate_limited outcome
// (AuthOutcome) of the scheme or grant it refused, counted there under
// its family with the per-address bucket's refusals, once.
func (*Recent) AuthLimited(string, string) {}

// MinuteCounts is one minute of one family.
type MinuteCounts struct {
	// Minute is when the minute starts.
	Minute   time.Time `json:"minute"`
	Requests int64     `json:"requests"`
	Denials  int64     `json:"denials"`
	Limited  int64     `json:"limited"`
}

// FamilyCounts is one family's last hour: the sums and each minute,
// oldest first (RecentMinutes of them, the current minute last).
type FamilyCounts struct {
	Family    string         `json:"family"`
	Requests  int64          `json:"requests"`
	Denials   int64          `json:"denials"`
	Limited   int64          `json:"limited"`
	PerMinute []MinuteCounts `json:"per_minute"`
}

// Snapshot returns every family's last hour at the clock's now, in the
// order the families were first seen.
func (r *Recent) Snapshot() []FamilyCounts {
	now := unixMinute(r.clock.Now())
	fams := *r.fams.Load()
	out := make([]FamilyCounts, 0, len(fams))
	for _, f := range fams {
		fc := FamilyCounts{Family: f.name, PerMinute: make([]MinuteCounts, RecentMinutes)}
		for i := range RecentMinutes {
			m := now - RecentMinutes + 1 + int64(i)
			mc := MinuteCounts{Minute: time.Unix(m*60, 0).UTC()}
			s := &f.slots[slotOf(m)]
			if s.minute.Load() == m {
				mc.Requests, mc.Denials, mc.Limited = s.requests.Load(), s.denials.Load(), s.limited.Load()
			}
			fc.PerMinute[i] = mc
			fc.Requests += mc.Requests
			fc.Denials += mc.Denials
			fc.Limited += mc.Limited
		}
		out = append(out, fc)
	}
	return out
}

// Tee is an observer that tells every one of obs (the Prometheus metrics
// and the dashboard's counters).
func Tee(obs ...core.Observer) core.Observer { return tee(obs) }

type tee []core.Observer

var _ core.Observer = tee(nil)

func (t tee) AuthOutcome(family, scheme string, err error) {
	for _, o := range t {
		o.AuthOutcome(family, scheme, err)
	}
}

func (t tee) TokensIssued(kind core.TokenKind, n int) {
	for _, o := range t {
		o.TokensIssued(kind, n)
	}
}

func (t tee) TokensRevoked(n int) {
	for _, o := range t {
		o.TokensRevoked(n)
	}
}

func (t tee) ReplayRefused(namespace string) {
	for _, o := range t {
		o.ReplayRefused(namespace)
	}
}

func (t tee) AuthLimited(family, scheme string) {
	for _, o := range t {
		o.AuthLimited(family, scheme)
	}
}
