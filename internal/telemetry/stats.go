package telemetry

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// RouteStats is the dashboard's counters in the admin API.
const RouteStats = "/admin/stats"

// The dashboard's bounds.
const (
	// ExpiringWithin is how far ahead a certificate counts as expiring.
	ExpiringWithin = 30 * 24 * time.Hour
	// maxExpiringListed bounds the expiring certificates listed (all are counted).
	maxExpiringListed = 100
	// MaxIssuedScanned bounds the issued certificates' records read per refresh.
	MaxIssuedScanned = 20000
	// storeCacheFor reuses what the store answered (issued certificates,
	// callbacks) so a dashboard refreshed by many consoles costs the
	// database one read per interval.
	storeCacheFor = 15 * time.Second
	storeTimeout  = 3 * time.Second
)

// IssuedSource lists the certificates the CA issued that expire after now
// and at or before until (unrevoked), and whether the list was cut short.
type IssuedSource func(ctx context.Context, now, until time.Time) ([]ExpiringCertificate, bool, error)

// DashboardDeps are the dashboard's sources.
type DashboardDeps struct {
	Recent       *Recent            // the per-minute counters (required)
	Certificates *CertificateExpiry // served and CA certificates; nil: none
	Issued       IssuedSource       // the CA's issued certificates; nil: none
	Jobs         JobCounter         // the outbox (core.JobStore); nil: none
	Clock        core.Clock
	Log          *slog.Logger
}

// Dashboard is GET /admin/stats: what the console's dashboard shows, from
// the server's own counters.
type Dashboard struct {
	d DashboardDeps

	mu       sync.Mutex
	cachedAt time.Time
	cached   storeParts
}

var _ adminapi.Group = (*Dashboard)(nil)

// NewDashboard builds the dashboard.
func NewDashboard(d DashboardDeps) *Dashboard {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Dashboard{d: d}
}

// Stats is the answer of GET /admin/stats.
type Stats struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Scope says what the counts cover: the requests are this node's
	// (each node counts its own), the certificates and the callbacks the
	// whole installation's (read from the store).
	Scope         string         `json:"scope"`
	WindowMinutes int            `json:"window_minutes"`
	Totals        Totals         `json:"totals"`
	Families      []FamilyCounts `json:"families"`
	Certificates  ExpiringStats  `json:"certificates"`
	Callbacks     CallbackStats  `json:"callbacks"`
	// Unavailable names the parts that could not be read now (the store
	// did not answer in time); their counts are absent or stale.
	Unavailable []string `json:"unavailable,omitempty"`
}

// Totals sums the families' last hour.
type Totals struct {
	Requests int64 `json:"requests"`
	Denials  int64 `json:"denials"`
	Limited  int64 `json:"limited"`
}

// ExpiringStats are the certificates expiring within WithinDays.
type ExpiringStats struct {
	WithinDays int `json:"within_days"`
	// Count is how many expire (served, CA and issued certificates);
	// Items lists the soonest maxExpiringListed of them.
	Count int                   `json:"count"`
	Items []ExpiringCertificate `json:"items"`
	// Truncated: more issued certificates exist than one refresh reads.
	Truncated bool `json:"truncated,omitempty"`
}

// ExpiringCertificate is one certificate that expires soon.
type ExpiringCertificate struct {
	// Source is "listener:<name>" for a served certificate, "ca" for a
	// CA certificate, "issued" for one the CA issued.
	Source        string    `json:"source"`
	Subject       string    `json:"subject"`
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"not_after"`
	ExpiresInDays int       `json:"expires_in_days"`
}

// CallbackStats are the outbox's unfinished jobs (M2M callbacks): the
// failed ones were given up and can be re-queued.
type CallbackStats struct {
	Failed  int          `json:"failed"`
	Pending int          `json:"pending"`
	Queues  []QueueStats `json:"queues"`
}

// QueueStats is one outbox queue.
type QueueStats struct {
	Queue   string `json:"queue"`
	Failed  int    `json:"failed"`
	Pending int    `json:"pending"`
}

// storeParts is what the store answered, cached for storeCacheFor.
type storeParts struct {
	issued          []ExpiringCertificate
	issuedTruncated bool
	callbacks       CallbackStats
	unavailable     []string
}

// Stats returns the dashboard for a caller granted stats.read (the
// counters are the node's, not an organisation's: administrators only).
func (d *Dashboard) Stats(ctx context.Context, g core.Gate) (Stats, error) {
	if g == nil {
		return Stats{}, core.E(core.KindForbidden, "not allowed: no caller")
	}
	if err := g.Authorize(ctx, core.ActStatsRead, core.Target{}, "dashboard"); err != nil {
		return Stats{}, err
	}
	now := d.d.Clock.Now()
	st := Stats{GeneratedAt: now, Scope: "node", WindowMinutes: RecentMinutes, Families: d.d.Recent.Snapshot(),
		Certificates: ExpiringStats{WithinDays: int(ExpiringWithin / (24 * time.Hour)), Items: []ExpiringCertificate{}}}
	sort.Slice(st.Families, func(i, j int) bool { return st.Families[i].Family < st.Families[j].Family })
	for _, f := range st.Families {
		st.Totals.Requests += f.Requests
		st.Totals.Denials += f.Denials
		st.Totals.Limited += f.Limited
	}
	until := now.Add(ExpiringWithin)
	var expiring []ExpiringCertificate
	for _, c := range d.d.Certificates.All() {
		if c.Cert.NotAfter.After(now) && !c.Cert.NotAfter.After(until) {
			expiring = append(expiring, ExpiringCertificate{Source: c.Source, Subject: c.Cert.Subject.String(),
				Serial: c.Cert.SerialNumber.Text(16), NotAfter: c.Cert.NotAfter})
		}
	}
	parts := d.storeParts(ctx, now, until)
	expiring = append(expiring, parts.issued...)
	sort.SliceStable(expiring, func(i, j int) bool { return expiring[i].NotAfter.Before(expiring[j].NotAfter) })
	st.Certificates.Count = len(expiring)
	st.Certificates.Truncated = parts.issuedTruncated
	for i := range expiring {
		expiring[i].ExpiresInDays = int(math.Floor(expiring[i].NotAfter.Sub(now).Hours() / 24))
	}
	st.Certificates.Items = append(st.Certificates.Items, expiring[:min(len(expiring), maxExpiringListed)]...)
	st.Callbacks = parts.callbacks
	st.Unavailable = parts.unavailable
	return st, nil
}

// storeParts reads the issued certificates and the outbox, or reuses the
// last read while it is recent. A part the store cannot give keeps its
// last value and is named unavailable.
func (d *Dashboard) storeParts(ctx context.Context, now, until time.Time) storeParts {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.cachedAt.IsZero() && now.Sub(d.cachedAt) < storeCacheFor && !now.Before(d.cachedAt) {
		return d.cached
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	next := storeParts{callbacks: CallbackStats{Queues: []QueueStats{}}}
	if d.d.Issued != nil {
		issued, truncated, err := d.d.Issued(ctx, now, until)
		if err != nil {
			d.d.Log.Warn("dashboard: issued certificates", slog.Any("err", err))
			next.issued, next.issuedTruncated = d.cached.issued, d.cached.issuedTruncated
			next.unavailable = append(next.unavailable, "certificates")
		} else {
			next.issued, next.issuedTruncated = issued, truncated
		}
	}
	if d.d.Jobs != nil {
		counts, err := d.d.Jobs.CountJobs(ctx)
		if err != nil {
			d.d.Log.Warn("dashboard: outbox", slog.Any("err", err))
			if d.cached.callbacks.Queues != nil {
				next.callbacks = d.cached.callbacks
			}
			next.unavailable = append(next.unavailable, "callbacks")
		} else {
			next.callbacks = callbackStats(counts)
		}
	}
	if len(next.unavailable) == 0 {
		d.cachedAt = now // a failed read is retried at the next request
	}
	d.cached = next
	return next
}

func callbackStats(counts []core.JobCount) CallbackStats {
	byQueue := map[string]*QueueStats{}
	out := CallbackStats{Queues: []QueueStats{}}
	var names []string
	for _, c := range counts {
		q := byQueue[c.Queue]
		if q == nil {
			q = &QueueStats{Queue: c.Queue}
			byQueue[c.Queue] = q
			names = append(names, c.Queue)
		}
		switch c.State {
		case core.JobFailed:
			q.Failed += c.Jobs
			out.Failed += c.Jobs
		case core.JobPending:
			q.Pending += c.Jobs
			out.Pending += c.Jobs
		}
	}
	sort.Strings(names)
	for _, n := range names {
		out.Queues = append(out.Queues, *byQueue[n])
	}
	return out
}

// AdminRoutes implements adminapi.Group.
func (d *Dashboard) AdminRoutes() []adminapi.Route {
	return []adminapi.Route{{Method: http.MethodGet, Path: RouteStats, Tag: "Dashboard",
		Summary: "Dashboard (administrators only: the counts are the node's): requests, denials and limiter refusals per family and minute over the last hour; certificates expiring within 30 days; failed callbacks",
		Action:  core.ActStatsRead, Result: Stats{},
		Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
			return d.Stats(ctx, req)
		}}}
}
