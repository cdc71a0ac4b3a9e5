package m2m_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/testutil/admintest"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// adminConfig is the section the operations read: acme is a TA partner.
func adminConfig() m2m.Config {
	cfg := m2m.DefaultConfig()
	cfg.TA.Partners = []m2m.PartnerConfig{{Name: "acme", SenderID: "SND-1"}}
	return cfg
}

func orgCount(t *testing.T, svc core.Services) int {
	t.Helper()
	_, n, err := svc.Store.ListOrganisations(context.Background(), core.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestM2MAdminOperations: every operation per principal kind and
// organisation: the partner's own owners and users read, administrators
// change, the partner principal itself and devices read nothing; refusals
// are audited; a partner the configuration does not list provisions
// nothing; unknown and huge ids are not found.
func TestM2MAdminOperations(t *testing.T) {
	w := newWorld(t, worldOptions{})
	svc, ctx := w.svc, context.Background()
	ops := m2m.NewAdmin(adminConfig(), svc)
	op := core.Operator{}
	acme, err := ops.GetPartner(ctx, op, "acme")
	if err != nil || acme.OrgID == "" || acme.SenderID != "SND-1" || len(acme.Envs) != 1 {
		t.Fatalf("partner: %+v, %v", acme, err)
	}
	keys, err := ops.ListAPIKeys(ctx, op, m2m.ListRequest{Partner: "acme"})
	if err != nil || keys.Total != 1 || keys.Items[0].Env != m2m.EnvTA || keys.Items[0].Partner != "acme" {
		t.Fatalf("keys: %+v, %v", keys, err)
	}
	keyID := keys.Items[0].ID
	otherOrg := admintest.Org(t, svc, "globex")
	adminOrg := admintest.Org(t, svc, "operators")
	gates := map[string]core.Gate{
		"admin":         admintest.Gate{Act: admintest.Actor(t, svc, adminOrg, core.PrincipalAdmin), Svc: svc},
		"owner":         admintest.Gate{Act: admintest.Actor(t, svc, acme.OrgID, core.PrincipalOwner), Svc: svc},
		"user":          admintest.Gate{Act: admintest.Actor(t, svc, acme.OrgID, core.PrincipalUser), Svc: svc},
		"device":        admintest.Gate{Act: admintest.Actor(t, svc, acme.OrgID, core.PrincipalDevice), Svc: svc},
		"partner":       admintest.Gate{Act: core.Actor{Kind: core.PrincipalPartner, OrgID: acme.OrgID, PrincipalID: acme.PrincipalID}, Svc: svc},
		"other's owner": admintest.Gate{Act: admintest.Actor(t, svc, otherOrg, core.PrincipalOwner), Svc: svc},
	}
	reads := []string{"admin", "owner", "user"}
	sims := 0
	for _, tt := range []struct {
		name string
		op   func(g core.Gate) error
		ok   []string
		// lookup: the operation names an object, which another
		// organisation's owner is answered as not found (refusal audited).
		lookup bool
	}{
		{"get partner", func(g core.Gate) error { _, err := ops.GetPartner(ctx, g, "acme"); return err }, reads, true},
		{"get apikey", func(g core.Gate) error { _, err := ops.GetAPIKey(ctx, g, keyID); return err }, reads, true},
		{"list acme's apikeys", func(g core.Gate) error {
			_, err := ops.ListAPIKeys(ctx, g, m2m.ListRequest{Partner: "acme"})
			return err
		}, reads, true},
		{"get SIM", func(g core.Gate) error { _, err := ops.GetSIM(ctx, g, "TA", iccid); return err }, reads, true},
		{"list acme's SIMs", func(g core.Gate) error {
			_, err := ops.ListSIMs(ctx, g, m2m.ListRequest{OrgID: acme.OrgID})
			return err
		}, reads, false},
		{"list outbox", func(g core.Gate) error { _, err := ops.ListOutbox(ctx, g, m2m.ListRequest{}); return err }, append(reads, "other's owner"), false},
		{"create apikey", func(g core.Gate) error {
			_, err := ops.CreateAPIKey(ctx, g, m2m.CreateAPIKeyRequest{Partner: "acme"})
			return err
		}, []string{"admin"}, false},
		{"add SIM", func(g core.Gate) error {
			sims++
			_, err := ops.AddSIM(ctx, g, m2m.AddSIMRequest{Partner: "acme", ICCID: fmt.Sprintf("89490200000001%05d", sims)})
			return err
		}, []string{"admin"}, false},
	} {
		for name, g := range gates {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				before := admintest.Refusals(t, svc)
				err := tt.op(g)
				allowed := false
				for _, n := range tt.ok {
					allowed = allowed || n == name
				}
				want := core.KindForbidden
				if tt.lookup && name == "other's owner" {
					want = core.KindNotFound
				}
				switch {
				case allowed && err != nil:
					t.Fatalf("refused: %v", err)
				case !allowed && core.KindOf(err) != want:
					t.Fatalf("err = %v, want %v", err, want)
				case !allowed && admintest.Refusals(t, svc) != before+1:
					t.Fatal("refusal not audited")
				}
			})
		}
	}
	// A non-admin's listings are its own organisation's.
	if l, err := ops.ListAPIKeys(ctx, gates["other's owner"], m2m.ListRequest{}); err != nil || l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("another organisation's owner lists keys: %+v, %v", l, err)
	}
	if l, err := ops.ListSIMs(ctx, gates["owner"], m2m.ListRequest{}); err != nil || l.Total == 0 {
		t.Fatalf("the partner's owner lists SIMs: %+v, %v", l, err)
	}
	if l, err := ops.ListPartners(ctx, gates["other's owner"], m2m.ListRequest{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("another organisation's owner lists partners: %+v, %v", l, err)
	}

	orgs := orgCount(t, svc)
	for _, tt := range []struct {
		name string
		op   func() error
		kind core.Kind
	}{
		{"apikey for an unlisted partner", func() error {
			_, err := ops.CreateAPIKey(ctx, op, m2m.CreateAPIKeyRequest{Partner: "NOSUCH"})
			return err
		}, core.KindNotFound},
		{"apikey for a TA partner in PE", func() error {
			_, err := ops.CreateAPIKey(ctx, op, m2m.CreateAPIKeyRequest{Partner: "acme", Env: "PE"})
			return err
		}, core.KindNotFound},
		{"apikey for a huge partner name", func() error {
			_, err := ops.CreateAPIKey(ctx, op, m2m.CreateAPIKeyRequest{Partner: strings.Repeat("p", 100000)})
			return err
		}, core.KindNotFound},
		{"apikey in no environment", func() error {
			_, err := ops.CreateAPIKey(ctx, op, m2m.CreateAPIKeyRequest{Partner: "acme", Env: "XX"})
			return err
		}, core.KindInvalidInput},
		{"SIM for an unlisted partner", func() error {
			_, err := ops.AddSIM(ctx, op, m2m.AddSIMRequest{Partner: "NOSUCH", ICCID: "8949020000000000025"})
			return err
		}, core.KindNotFound},
		{"unknown partner", func() error { _, err := ops.GetPartner(ctx, op, "NOSUCH"); return err }, core.KindNotFound},
		{"unknown apikey", func() error { _, err := ops.GetAPIKey(ctx, op, "nosuch"); return err }, core.KindNotFound},
		{"another kind's credential as an apikey", func() error {
			c, _, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: acme.OrgID, PrincipalID: acme.PrincipalID, Kind: core.CredAccessKey})
			if err != nil {
				return err
			}
			_, err = ops.RevokeAPIKey(ctx, op, c.ID)
			return err
		}, core.KindNotFound},
		{"huge apikey id", func() error { _, err := ops.GetAPIKey(ctx, op, strings.Repeat("k", 100000)); return err }, core.KindNotFound},
		{"unknown SIM", func() error { _, err := ops.GetSIM(ctx, op, "TA", "8949020000000000099"); return err }, core.KindNotFound},
		{"SIM of the other environment", func() error { _, err := ops.GetSIM(ctx, op, "PE", iccid); return err }, core.KindNotFound},
		{"malformed ICCID", func() error { _, err := ops.DeleteSIM(ctx, op, "TA", "12345"); return err }, core.KindNotFound},
		{"unknown job", func() error { _, err := ops.RequeueJob(ctx, op, "nosuch"); return err }, core.KindNotFound},
		{"bad outbox state", func() error { _, err := ops.ListOutbox(ctx, op, m2m.ListRequest{State: "stuck"}); return err }, core.KindInvalidInput},
	} {
		if err := tt.op(); core.KindOf(err) != tt.kind {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.kind)
		}
	}
	if n := orgCount(t, svc); n != orgs {
		t.Fatalf("refused operations created %d organisations", n-orgs)
	}
}

// TestAttack_M2MAdminRoutes: the M2M routes end to end against a running
// environment — the outbox lists a failed callback with its attempts and
// error (never the message), requeues it once (409 for a job that has not
// failed), the worker delivers it; another organisation's key and
// partner, the partner principal and devices are refused (403, audited);
// unknown ids are 404 and bodies are bounded; a deleted SIM and a revoked
// M2MApiKey are refused by the M2M service itself.
func TestAttack_M2MAdminRoutes(t *testing.T) {
	clock := core.NewManualClock(time.Now())
	w := newWorld(t, worldOptions{clock: clock, cfg: func(c *m2m.Config) { c.RetryDelay = time.Minute }})
	svc, ctx := w.svc, context.Background()
	base := admintest.Serve(t, svc, m2m.NewAdmin(adminConfig(), svc).AdminRoutes())
	call := func(token, method, path string, body any) (int, []byte) {
		t.Helper()
		return admintest.Call(t, nil, base, token, method, path, body)
	}
	var acme m2m.PartnerView
	admin := admintest.Token(t, svc, admintest.Org(t, svc, "operators"), core.PrincipalAdmin)
	if st, b := call(admin, "GET", "/admin/m2m/partners/acme", nil); st != 200 || json.Unmarshal(b, &acme) != nil || acme.OrgID == "" {
		t.Fatalf("partner: %d %s", st, b)
	}
	owner := admintest.Token(t, svc, acme.OrgID, core.PrincipalOwner)
	device := admintest.Token(t, svc, acme.OrgID, core.PrincipalDevice)
	otherOwner := admintest.Token(t, svc, admintest.Org(t, svc, "globex"), core.PrincipalOwner)
	partnerTok, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: acme.OrgID, PrincipalID: acme.PrincipalID, PrincipalKind: core.PrincipalPartner, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	// A callback the partner refuses twice: sent, re-sent once, failed.
	w.partner.fail = 2
	mr, err := w.client.Adm(ctx, sdk.OpSIMActivation, iccid, "")
	if err != nil {
		t.Fatal(err)
	}
	w.env.ProcessDue(ctx)
	clock.Advance(2 * time.Minute)
	w.env.ProcessDue(ctx)
	type jobs struct {
		Items []m2m.JobView `json:"items"`
		Total int           `json:"total"`
	}
	var failed jobs
	if st, b := call(owner, "GET", m2m.RouteOutbox+"?state=failed", nil); st != 200 || json.Unmarshal(b, &failed) != nil || failed.Total != 1 {
		t.Fatalf("failed jobs: %d %s", st, b)
	}
	j := failed.Items[0]
	if j.Kind != "admcl" || j.Partner != "acme" || j.RequestID != mr.RequestID || j.Attempts != 2 || j.State != core.JobFailed ||
		!strings.Contains(j.LastError, "state code 500") || j.NextAttemptAt != nil || j.FailedAt == nil || j.Env != m2m.EnvTA {
		t.Fatalf("failed job %+v", j)
	}
	var all jobs
	if st, b := call(admin, "GET", m2m.RouteOutbox, nil); st != 200 || json.Unmarshal(b, &all) != nil || all.Total != 3 || strings.Contains(string(b), "payload") {
		t.Fatalf("outbox: %d %s", st, b)
	}
	if st, b := call(otherOwner, "GET", m2m.RouteOutbox, nil); st != 200 || json.Unmarshal(b, &all) != nil || all.Total != 0 {
		t.Fatalf("another organisation's outbox view: %d %s", st, b)
	}
	for _, other := range all.Items {
		t.Fatalf("another organisation sees job %+v", other)
	}
	var done jobs
	if st, b := call(admin, "GET", m2m.RouteOutbox+"?state=done", nil); st != 200 || json.Unmarshal(b, &done) != nil || done.Total != 2 {
		t.Fatalf("done jobs: %d %s", st, b)
	}
	requeue := "/admin/m2m/outbox/" + j.ID + "/requeue"
	for _, tt := range []struct {
		token, path string
		status      int
	}{
		{owner, requeue, 403},
		{partnerTok, requeue, 403},
		{admin, "/admin/m2m/outbox/" + done.Items[0].ID + "/requeue", 409},
		{admin, "/admin/m2m/outbox/nosuch/requeue", 404},
	} {
		if st, b := call(tt.token, "POST", tt.path, nil); st != tt.status {
			t.Fatalf("POST %s: %d %s, want %d", tt.path, st, b, tt.status)
		}
	}
	var rq m2m.JobView
	if st, b := call(admin, "POST", requeue, nil); st != 200 || json.Unmarshal(b, &rq) != nil || rq.State != core.JobPending || rq.NextAttemptAt == nil || rq.Attempts != 2 {
		t.Fatalf("requeue: %d %s", st, b)
	}
	if st, b := call(admin, "POST", requeue, nil); st != 409 {
		t.Fatalf("requeue of a pending job: %d %s", st, b)
	}
	if n, err := w.env.ProcessDue(ctx); n != 1 || err != nil {
		t.Fatalf("requeued job ran %d times (%v)", n, err)
	}
	if len(w.partner.adm) != 1 || w.partner.adm[0].RequestID != mr.RequestID {
		t.Fatalf("partner received %+v", w.partner.adm)
	}
	if evs, _ := svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditUpdate, Protocol: "m2m", Limit: 100}); !auditNames(evs, "outbox job "+j.ID) {
		t.Fatalf("requeue not audited: %+v", evs)
	}

	// Keys and SIMs: another organisation, other kinds, unknown ids, bodies.
	var keys struct {
		Items []m2m.APIKeyView `json:"items"`
	}
	if st, b := call(owner, "GET", m2m.RouteAPIKeys, nil); st != 200 || json.Unmarshal(b, &keys) != nil || len(keys.Items) != 1 || strings.Contains(string(b), "secret") {
		t.Fatalf("the partner's keys: %d %s", st, b)
	}
	keyPath := "/admin/m2m/apikeys/" + keys.Items[0].ID
	orgs := orgCount(t, svc)
	for _, tt := range []struct {
		name, token, method, path string
		body                      any
		status                    int
		audited                   bool
	}{
		{"another organisation's key", otherOwner, "GET", keyPath, nil, 404, true},
		{"another organisation's partner", otherOwner, "GET", "/admin/m2m/partners/acme", nil, 404, true},
		{"another organisation's partner as a filter", otherOwner, "GET", m2m.RouteAPIKeys + "?partner=acme", nil, 404, true},
		{"another organisation's SIM", otherOwner, "GET", "/admin/m2m/sims/" + iccid, nil, 404, true},
		{"another organisation in the query", owner, "GET", m2m.RouteSIMs + "?org=" + admintest.Org(t, svc, "initech"), nil, 403, true},
		{"owner revokes", owner, "POST", keyPath + "/revoke", nil, 403, true},
		{"owner deletes a SIM", owner, "DELETE", "/admin/m2m/sims/" + iccid, nil, 403, true},
		{"the partner itself", partnerTok, "GET", m2m.RouteAPIKeys, nil, 403, true},
		{"a device", device, "GET", m2m.RouteSIMs, nil, 403, true},
		{"no token", "", "GET", m2m.RouteSIMs, nil, 401, false},
		{"the M2MApiKey as a token", w.apiKey, "GET", m2m.RouteSIMs, nil, 401, false},
		{"unlisted partner", admin, "POST", m2m.RouteAPIKeys, map[string]string{"partner": "NOSUCH"}, 404, false},
		{"unknown key", admin, "GET", "/admin/m2m/apikeys/nosuch", nil, 404, false},
		{"unknown SIM", admin, "GET", "/admin/m2m/sims/8949020000000000099", nil, 404, false},
		{"huge SIM id", admin, "DELETE", "/admin/m2m/sims/" + strings.Repeat("8", 4000), nil, 404, false},
		{"unknown partner", admin, "GET", "/admin/m2m/partners/NOSUCH", nil, 404, false},
		{"bad environment", admin, "GET", "/admin/m2m/sims/" + iccid + "?env=XX", nil, 400, false},
		{"huge body", admin, "POST", m2m.RouteSIMs, []byte(`{"partner":"` + strings.Repeat("a", 100<<10) + `"}`), 413, false},
		{"unknown field", admin, "POST", m2m.RouteSIMs, []byte(`{"partner":"acme","iccid":"8949020000000000025","org":"x"}`), 400, false},
		{"bad state", admin, "GET", m2m.RouteOutbox + "?state=stuck", nil, 400, false},
		{"repeated parameter", admin, "GET", m2m.RouteOutbox + "?env=TA&env=PE", nil, 400, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := admintest.Refusals(t, svc)
			st, b := call(tt.token, tt.method, tt.path, tt.body)
			var e struct{ Error string }
			if st != tt.status || json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Fatalf("%d %.300s, want %d with an error", st, b, tt.status)
			}
			if got := admintest.Refusals(t, svc) > before; got != tt.audited {
				t.Fatalf("audited refusal: %v, want %v", got, tt.audited)
			}
		})
	}
	if n := orgCount(t, svc); n != orgs+1 { // initech, made for the query above
		t.Fatalf("refused requests created %d organisations", n-orgs-1)
	}

	// A SIM added and deleted through the API: the service no longer knows it.
	const sim2 = "8949020000000000025"
	if st, b := call(admin, "POST", m2m.RouteSIMs, map[string]string{"partner": "acme", "iccid": sim2}); st != 201 || !strings.Contains(string(b), `"state":"SHIPPED"`) {
		t.Fatalf("add SIM: %d %s", st, b)
	}
	if _, err := w.client.SIMUsageGet(ctx, sim2); err != nil {
		t.Fatalf("usage of the new SIM: %v", err)
	}
	if st, b := call(admin, "DELETE", "/admin/m2m/sims/"+sim2+"?env=TA", nil); st != 200 {
		t.Fatalf("delete SIM: %d %s", st, b)
	}
	var f *sdk.Fault
	if _, err := w.client.SIMUsageGet(ctx, sim2); !errors.As(err, &f) || f.Detail != sdk.ErrUnknownICCID {
		t.Fatalf("usage of a deleted SIM: %v", err)
	}

	// A revoked M2MApiKey: the next request is refused.
	var revoked m2m.APIKeyView
	if st, b := call(admin, "POST", keyPath+"/revoke", nil); st != 200 || json.Unmarshal(b, &revoked) != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if _, err := w.client.SIMUsageGet(ctx, iccid); !errors.As(err, &f) || f.Detail != sdk.ErrInvalidAPIKey {
		t.Fatalf("a revoked M2MApiKey: %v", err)
	}
	if st, b := call(owner, "GET", m2m.RouteAPIKeys, nil); st != 200 || !strings.Contains(string(b), `"total":0`) {
		t.Fatalf("keys after the revocation: %d %s", st, b)
	}
	if st, b := call(owner, "GET", m2m.RouteAPIKeys+"?include_revoked=true", nil); st != 200 || !strings.Contains(string(b), `"total":1`) {
		t.Fatalf("keys with the revoked: %d %s", st, b)
	}
}

func auditNames(evs []core.AuditEvent, subject string) bool {
	for _, e := range evs {
		if e.Subject == subject && strings.Contains(e.Reason, "requeued") {
			return true
		}
	}
	return false
}

// BenchmarkListOutboxOrganisation: an owner's outbox listing, which reads
// the newest outboxScan jobs (half of them its partner's) and keeps its
// own: the cost of the organisation filter on a full outbox.
func BenchmarkListOutboxOrganisation(b *testing.B) {
	svc, _ := agtest.NewServices(b, agtest.Options{})
	ctx := context.Background()
	ops := m2m.NewAdmin(adminConfig(), svc)
	k, err := ops.CreateAPIKey(ctx, core.Operator{}, m2m.CreateAPIKeyRequest{Partner: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 5000 {
		partner := "acme"
		if i%2 == 1 {
			partner = "globex"
		}
		p := fmt.Sprintf(`{"kind":"admcl","request_id":"r%d","partner":%q}`, i, partner)
		if err := svc.Store.EnqueueJob(ctx, core.Job{ID: fmt.Sprintf("admcl-r%d", i), Queue: "m2m.TA", Payload: json.RawMessage(p), RunAt: now, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	owner := admintest.Gate{Act: admintest.Actor(b, svc, k.OrgID, core.PrincipalOwner), Svc: svc}
	for b.Loop() {
		l, err := ops.ListOutbox(ctx, owner, m2m.ListRequest{Page: core.Page{Limit: 100}})
		if err != nil || l.Total != 2500 || len(l.Items) != 100 {
			b.Fatalf("%d items of %d, %v", len(l.Items), l.Total, err)
		}
	}
}
