package adminapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// RouteAudit is the audit log's listing.
const RouteAudit = "/admin/audit"

// Page sizes of GET /admin/audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// The services the module needs, as small interfaces.
type (
	auditLister interface {
		List(ctx context.Context, f core.AuditFilter) ([]core.AuditEvent, error)
	}
	bearer interface {
		Authenticate(ctx context.Context, req core.BearerRequest) (core.BearerCaller, error)
	}
	authorizer interface {
		Authorize(ctx context.Context, a core.Authorization) error
	}
)

var (
	_ auditLister = (*core.Auditor)(nil)
	_ bearer      = (*core.BearerAuth)(nil)
	_ authorizer  = (*core.Authorizer)(nil)
)

// Deps are the module's dependencies.
type Deps struct {
	Audit  auditLister
	Bearer bearer
	Authz  authorizer
	Addr   httpapi.ClientAddr
	Log    *slog.Logger // internal failures; nil: not logged
}

// Module serves the admin API.
type Module struct{ d Deps }

var _ httpapi.Module = (*Module)(nil)

// New builds the module.
func New(d Deps) *Module { return &Module{d: d} }

// Register mounts the routes.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+RouteAudit, m.listAudit)
}

// auditPage is the answer of GET /admin/audit.
type auditPage struct {
	Events []core.AuditEvent `json:"events"`
	// NextCursor continues the listing (the cursor parameter); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// listAudit pages the audit log newest first. An owner's listing is its
// organisation's whatever org it asks for; asking for another
// organisation's is refused (and audited).
func (m *Module) listAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller, err := m.d.Bearer.Authenticate(ctx, core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS,
		Protocol: "admin", RemoteAddr: m.d.Addr.IP(r), RequestID: httpapi.RequestID(r)})
	if err != nil {
		httpapi.WriteAdminError(w, r, m.d.Log, "audit", err)
		return
	}
	f, limit, err := auditQuery(r.URL.Query())
	if err != nil {
		httpapi.WriteAdminError(w, r, m.d.Log, "audit", err)
		return
	}
	act := caller.Actor()
	if core.Granted(act.Kind, core.ActAuditRead) != core.ReachAll && f.OrgID == "" {
		f.OrgID = act.OrgID // an organisation-wide grant lists its own organisation
	}
	if err := m.d.Authz.Authorize(ctx, core.Authorization{Actor: act, Action: core.ActAuditRead, Target: core.Target{OrgID: f.OrgID},
		Subject: "GET " + RouteAudit, Protocol: "admin", RemoteAddr: m.d.Addr.IP(r), RequestID: httpapi.RequestID(r)}); err != nil {
		httpapi.WriteAdminError(w, r, m.d.Log, "audit", err)
		return
	}
	// One more than the page tells whether another page follows.
	f.Limit = limit + 1
	events, err := m.d.Audit.List(ctx, f)
	if err != nil {
		httpapi.WriteAdminError(w, r, m.d.Log, "audit", err)
		return
	}
	page := auditPage{Events: events}
	if len(events) > limit {
		page.Events = events[:limit]
		page.NextCursor = strconv.FormatInt(page.Events[limit-1].ID, 10)
	}
	if page.Events == nil {
		page.Events = []core.AuditEvent{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(page)
}

// auditQuery reads the filter parameters: since, until (RFC 3339), org,
// principal, action, protocol, result, limit and cursor.
func auditQuery(q url.Values) (core.AuditFilter, int, error) {
	for k, v := range q {
		switch k {
		case "since", "until", "org", "principal", "action", "protocol", "result", "limit", "cursor":
		default:
			return core.AuditFilter{}, 0, core.E(core.KindInvalidInput, "unknown parameter "+strconv.Quote(core.LogSafe(k, 64)))
		}
		if len(v) > 1 {
			return core.AuditFilter{}, 0, core.E(core.KindInvalidInput, "parameter "+k+" given more than once")
		}
		if len(v[0]) > 256 {
			return core.AuditFilter{}, 0, core.E(core.KindInvalidInput, "parameter "+k+" is too long")
		}
	}
	f := core.AuditFilter{OrgID: q.Get("org"), PrincipalID: q.Get("principal"), Action: q.Get("action"),
		Protocol: q.Get("protocol"), Outcome: q.Get("result")}
	switch f.Outcome {
	case "", core.OutcomeSuccess, core.OutcomeFailure:
	default:
		return f, 0, core.E(core.KindInvalidInput, "result must be success or failure")
	}
	var err error
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return f, 0, core.E(core.KindInvalidInput, p.name+" must be an RFC 3339 time")
			}
		}
	}
	limit := defaultAuditLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAuditLimit {
			return f, 0, core.E(core.KindInvalidInput, "limit must be between 1 and "+strconv.Itoa(maxAuditLimit))
		}
	}
	if v := q.Get("cursor"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			return f, 0, core.E(core.KindInvalidInput, "cursor must be the next_cursor of a previous page")
		}
	}
	return f, limit, nil
}
