package adminapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// RouteAudit is the audit log's listing.
const RouteAudit = "/admin/audit"

// Page sizes of GET /admin/audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditLister is the audit log (core.Auditor).
type auditLister interface {
	List(ctx context.Context, f core.AuditFilter) ([]core.AuditEvent, error)
}

var _ auditLister = (*core.Auditor)(nil)

// Audit is the audit log's group of routes.
type Audit struct{ Log auditLister }

var _ Group = Audit{}

// AuditPage is the answer of GET /admin/audit.
type AuditPage struct {
	Events []core.AuditEvent `json:"events"`
	// NextCursor continues the listing (the cursor parameter); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// AdminRoutes are the audit log's routes.
func (a Audit) AdminRoutes() []Route {
	return []Route{{Method: http.MethodGet, Path: RouteAudit, Tag: "Audit", Summary: "Page the audit log, newest first",
		Action: core.ActAuditRead, Result: AuditPage{}, Handle: a.list,
		Query: []Param{
			{"since", "events at or after this RFC 3339 time", "string"},
			{"until", "events before this RFC 3339 time", "string"},
			{"org", "one organisation's events (an owner's are its own)", "string"},
			{"principal", "one principal's events", "string"},
			{"action", "one action (e.g. token.issue, forbidden)", "string"},
			{"protocol", "one protocol (oauth2, tpv, admin, ...)", "string"},
			{"result", "success or failure", "string"},
			{"limit", "page size, 1 to " + strconv.Itoa(maxAuditLimit) + " (default " + strconv.Itoa(defaultAuditLimit) + ")", "integer"},
			{"cursor", "the next_cursor of the previous page", "string"},
		}}}
}

// list pages the audit log newest first. An owner's listing is its
// organisation's whatever org it asks for; asking for another
// organisation's is refused (and audited).
func (a Audit) list(ctx context.Context, req *Request) (any, error) {
	f, limit, err := auditQuery(req.HTTP.URL.Query())
	if err != nil {
		return nil, err
	}
	if f.OrgID, err = core.ListOrg(ctx, req, core.ActAuditRead, f.OrgID, "GET "+RouteAudit); err != nil {
		return nil, err
	}
	// One more than the page tells whether another page follows.
	f.Limit = limit + 1
	events, err := a.Log.List(ctx, f)
	if err != nil {
		return nil, err
	}
	page := AuditPage{Events: events}
	if len(events) > limit {
		page.Events = events[:limit]
		page.NextCursor = strconv.FormatInt(page.Events[limit-1].ID, 10)
	}
	if page.Events == nil {
		page.Events = []core.AuditEvent{}
	}
	return page, nil
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
