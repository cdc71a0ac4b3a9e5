package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

type page struct {
	Events     []map[string]any `json:"events"`
	NextCursor string           `json:"next_cursor"`
}

func setup(t *testing.T) (*agtest.Env, map[core.PrincipalKind]string, string) {
	t.Helper()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{mustAPI(t, adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz}, adminapi.Audit{Log: svc.Audit}.AdminRoutes())}
	})
	ctx := context.Background()
	orgA, err := env.Svc.CreateOrganisation(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	orgB, err := env.Svc.CreateOrganisation(ctx, "org-b")
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[core.PrincipalKind]string{}
	for _, kind := range []core.PrincipalKind{core.PrincipalAdmin, core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice} {
		org := orgA.ID
		if kind == core.PrincipalAdmin {
			org = env.Admin.OrgID
		}
		p, err := env.Svc.CreatePrincipal(ctx, org, kind, string(kind)+"-1")
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: org, PrincipalID: p.ID, PrincipalKind: kind, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		tokens[kind] = tok
	}
	// 7 events of org A (3 failures), 5 of org B.
	for i := 0; i < 12; i++ {
		e := core.AuditEvent{Action: core.AuditIssue, Protocol: "oauth2", OrgID: orgA.ID, Outcome: core.OutcomeSuccess}
		if i >= 7 {
			e.OrgID = orgB.ID
		} else if i%2 == 0 && i > 0 {
			e.Action, e.Outcome = core.AuditAuthFailure, core.OutcomeFailure
		}
		if err := env.Svc.Audit.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return env, tokens, orgB.ID
}

func get(t *testing.T, env *agtest.Env, token, query string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", env.URL+adminapi.RouteAudit+"?"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func list(t *testing.T, env *agtest.Env, token, query string) page {
	t.Helper()
	st, _, b := get(t, env, token, query)
	if st != http.StatusOK {
		t.Fatalf("GET ?%s: %d %s", query, st, b)
	}
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return p
}

// TestAuditPagesWithACursor: an admin pages through every organisation's
// events with next_cursor, each event once, newest first; the filters
// narrow the listing.
func TestAuditPagesWithACursor(t *testing.T) {
	env, tokens, orgB := setup(t)
	admin := tokens[core.PrincipalAdmin]
	all := list(t, env, admin, "limit=1000")
	if len(all.Events) < 12 || all.NextCursor != "" {
		t.Fatalf("admin listing: %d events, cursor %q", len(all.Events), all.NextCursor)
	}
	var ids []float64
	q := url.Values{"limit": {"5"}}
	for pages := 0; ; pages++ {
		p := list(t, env, admin, q.Encode())
		for _, e := range p.Events {
			ids = append(ids, e["id"].(float64))
		}
		if p.NextCursor == "" {
			break
		}
		if len(p.Events) != 5 || pages > 10 {
			t.Fatalf("page %d: %d events with a next cursor", pages, len(p.Events))
		}
		q.Set("cursor", p.NextCursor)
	}
	if len(ids) != len(all.Events) {
		t.Fatalf("paging visited %d events, the listing has %d", len(ids), len(all.Events))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first at %d: %v", i, ids)
		}
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"org=" + orgB, 5},
		{"org=" + orgB + "&result=failure", 0},
		{"result=failure&action=auth_failure&protocol=oauth2", 3},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 0},
		{"until=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), 0},
	} {
		if p := list(t, env, admin, tt.query); len(p.Events) != tt.want {
			t.Errorf("?%s: %d events, want %d", tt.query, len(p.Events), tt.want)
		}
	}
}

// TestAttack_AuditOfAnotherOrganisation: an owner sees its organisation's
// events only, asking for another's is refused and audited; users and
// devices are refused; no token, a bad token and bad parameters are
// refused in the admin API's JSON shape.
func TestAttack_AuditOfAnotherOrganisation(t *testing.T) {
	env, tokens, orgB := setup(t)
	owner := tokens[core.PrincipalOwner]
	own := list(t, env, owner, "limit=1000")
	if len(own.Events) == 0 {
		t.Fatal("owner sees nothing of its own organisation")
	}
	for _, e := range own.Events {
		if e["org_id"] == orgB {
			t.Fatalf("owner of org A sees an event of org B: %v", e)
		}
	}
	for _, tt := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"owner asks for another organisation", owner, "org=" + orgB, 403, "insufficient_scope"},
		{"user", tokens[core.PrincipalUser], "", 403, "insufficient_scope"},
		{"device", tokens[core.PrincipalDevice], "", 403, "insufficient_scope"},
		{"no token", "", "", 401, "invalid_token"},
		{"unknown token", "not-a-token", "", 401, "invalid_token"},
		{"unknown parameter", owner, "orgid=x", 400, "invalid_request"},
		{"repeated parameter", owner, "org=a&org=b", 400, "invalid_request"},
		{"huge parameter", owner, "principal=" + strings.Repeat("p", 300), 400, "invalid_request"},
		{"limit too large", owner, "limit=1001", 400, "invalid_request"},
		{"limit zero", owner, "limit=0", 400, "invalid_request"},
		{"cursor not a cursor", owner, "cursor=abc", 400, "invalid_request"},
		{"negative cursor", owner, "cursor=-5", 400, "invalid_request"},
		{"bad since", owner, "since=yesterday", 400, "invalid_request"},
		{"bad result", owner, "result=maybe", 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, h, b := get(t, env, tt.token, tt.query)
			var e struct{ Error string }
			_ = json.Unmarshal(b, &e)
			if st != tt.status || e.Error != tt.code || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s, want %d %s", st, b, tt.status, tt.code)
			}
			if st == 401 && h.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
	refusals, err := env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden})
	if err != nil || len(refusals) < 3 {
		t.Fatalf("refusals audited: %d, %v", len(refusals), err)
	}
}
