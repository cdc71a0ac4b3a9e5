// Package storetest is the one conformance suite every storage backend must
// pass: it drives each method of every core storage interface, the
// optional BatchWriter and CounterReader, and the replay cache under
// concurrency. internal/store/sqlite and internal/store/postgres run it.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Opener returns a fresh, empty store for one test.
type Opener func(t *testing.T) core.Store

// t0 is a fixed instant; stores keep microseconds.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, core.Store)
	}{
		{"Lifecycle", testLifecycle},
		{"Organisations", testOrganisations},
		{"Principals", testPrincipals},
		{"Credentials", testCredentials},
		{"Tokens", testTokens},
		{"TokenRotatedOnce", testTokenRotatedOnce},
		{"TokenExchangeBounded", testTokenExchangeBounded},
		{"TokenSuccessorOnce", testTokenSuccessorOnce},
		{"TokenBatch", testTokenBatch},
		{"TokenCredentialRevocation", testTokenCredentialRevocation},
		{"Replay", testReplay},
		{"ReplayConcurrent", testReplayConcurrent},
		{"ReplayBatch", testReplayBatch},
		{"ReplayBatchConcurrent", testReplayBatchConcurrent},
		{"Audit", testAudit},
		{"Documents", testDocuments},
		{"GatewayRoutes", testGatewayRoutes},
		{"Jobs", testJobs},
		{"JobsClaimedOnce", testJobsClaimedOnce},
		{"JobsPurged", testJobsPurged},
		{"NotFound", testNotFound},
		{"Counters", testCounters},
		{"KeyIDs", testKeyIDs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func seedPrincipal(t *testing.T, s core.Store, org, name string) core.Principal {
	t.Helper()
	ctx := context.Background()
	if _, err := s.GetOrganisation(ctx, org); err != nil {
		must(t, s.CreateOrganisation(ctx, core.Organisation{ID: org, Name: org, CreatedAt: t0}))
	}
	p := core.Principal{ID: core.NewID(), OrgID: org, Kind: core.PrincipalUser, Name: name, CreatedAt: t0}
	must(t, s.CreatePrincipal(ctx, p))
	return p
}

func testOrganisations(t *testing.T, s core.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		must(t, s.CreateOrganisation(ctx, core.Organisation{ID: fmt.Sprintf("org%d", i), Name: fmt.Sprintf("Org %d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second)}))
	}
	wantErr(t, s.CreateOrganisation(ctx, core.Organisation{ID: "org1", Name: "dup", CreatedAt: t0}), core.ErrConflict)
	o, err := s.GetOrganisation(ctx, "org2")
	must(t, err)
	if o.Name != "Org 2" || !o.CreatedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("got %+v", o)
	}
	_, err = s.GetOrganisation(ctx, "missing")
	wantErr(t, err, core.ErrNotFound)
	list, total, err := s.ListOrganisations(ctx, core.Page{Offset: 1, Limit: 1})
	must(t, err)
	if total != 3 || len(list) != 1 || list[0].ID != "org1" {
		t.Fatalf("page = %+v total %d", list, total)
	}
	// Stores keep Unix microseconds: nanoseconds are truncated, the zone becomes UTC.
	precise := time.Date(2026, 3, 4, 6, 6, 7, 123456789, time.FixedZone("CET", 3600))
	must(t, s.CreateOrganisation(ctx, core.Organisation{ID: "precise", Name: "p", CreatedAt: precise}))
	o, err = s.GetOrganisation(ctx, "precise")
	must(t, err)
	if want := precise.Truncate(time.Microsecond).UTC(); o.CreatedAt != want {
		t.Fatalf("CreatedAt = %v, want %v", o.CreatedAt, want)
	}
}

func testLifecycle(t *testing.T, s core.Store) {
	must(t, s.Ping(context.Background()))
	must(t, s.CheckWritable(context.Background()))
	must(t, s.CheckWritable(context.Background())) // the second increments the same row
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("Dialect = %q", d)
	}
}

func testPrincipals(t *testing.T, s core.Store) {
	ctx := context.Background()
	must(t, s.CreateOrganisation(ctx, core.Organisation{ID: "o", Name: "o", CreatedAt: t0}))
	alice := core.Principal{ID: "p1", OrgID: "o", Kind: core.PrincipalUser, Name: "alice", CreatedAt: t0}
	must(t, s.CreatePrincipal(ctx, alice))
	must(t, s.CreatePrincipal(ctx, core.Principal{ID: "p2", OrgID: "o", Kind: core.PrincipalDevice, Name: "alice", CreatedAt: t0.Add(time.Second)}))
	must(t, s.CreatePrincipal(ctx, core.Principal{ID: "p3", OrgID: "o", Kind: core.PrincipalAdmin, Name: "root", CreatedAt: t0.Add(2 * time.Second)}))
	wantErr(t, s.CreatePrincipal(ctx, core.Principal{ID: "p4", OrgID: "o", Kind: core.PrincipalUser, Name: "alice", CreatedAt: t0}), core.ErrConflict)
	// A principal of a missing organisation is refused as invalid input (foreign key).
	wantErr(t, s.CreatePrincipal(ctx, core.Principal{ID: "p5", OrgID: "no-such-org", Kind: core.PrincipalUser, Name: "x", CreatedAt: t0}), core.ErrInvalidInput)
	got, err := s.GetPrincipal(ctx, "p1")
	must(t, err)
	if got != alice {
		t.Fatalf("got %+v want %+v", got, alice)
	}
	got, err = s.FindPrincipal(ctx, "o", core.PrincipalDevice, "alice")
	must(t, err)
	if got.ID != "p2" {
		t.Fatalf("FindPrincipal = %+v", got)
	}
	_, err = s.FindPrincipal(ctx, "o", core.PrincipalOwner, "alice")
	wantErr(t, err, core.ErrNotFound)
	all, total, err := s.ListPrincipals(ctx, "o", "", core.Page{})
	must(t, err)
	if total != 3 || len(all) != 3 || all[0].ID != "p1" {
		t.Fatalf("list all = %+v", all)
	}
	users, total, err := s.ListPrincipals(ctx, "o", core.PrincipalUser, core.Page{})
	must(t, err)
	if total != 1 || users[0].ID != "p1" {
		t.Fatalf("list users = %+v", users)
	}
	must(t, s.SetPrincipalDisabled(ctx, "p1", true))
	got, _ = s.GetPrincipal(ctx, "p1")
	if !got.Disabled {
		t.Fatal("not disabled")
	}
	wantErr(t, s.SetPrincipalDisabled(ctx, "missing", true), core.ErrNotFound)
	n, err := s.CountPrincipals(ctx, core.PrincipalAdmin)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountPrincipals = %d", n)
	}
}

func testCredentials(t *testing.T, s core.Store) {
	ctx := context.Background()
	p := seedPrincipal(t, s, "o", "alice")
	q := seedPrincipal(t, s, "o2", "bob")
	exp := t0.Add(time.Hour)
	c1 := core.Credential{ID: "c1", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAccessKey, Lookup: "K1", Name: "first",
		SecretHash: []byte{1, 2, 3}, Meta: json.RawMessage(`{"a":1}`), CreatedAt: t0, ExpiresAt: &exp}
	must(t, s.CreateCredential(ctx, c1))
	must(t, s.CreateCredential(ctx, core.Credential{ID: "c2", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAppToken, Lookup: "K1", Sealed: []byte{9}, CreatedAt: t0.Add(time.Second)}))
	must(t, s.CreateCredential(ctx, core.Credential{ID: "c3", PrincipalID: q.ID, OrgID: "o2", Kind: core.CredPublicKey, Lookup: "pk", Public: []byte("PEM"), CreatedAt: t0.Add(2 * time.Second)}))
	wantErr(t, s.CreateCredential(ctx, core.Credential{ID: "c4", PrincipalID: p.ID, OrgID: "o", Kind: core.CredAccessKey, Lookup: "K1", CreatedAt: t0}), core.ErrConflict)

	got, err := s.FindCredential(ctx, core.CredAccessKey, "K1")
	must(t, err)
	if got.ID != "c1" || string(got.SecretHash) != "\x01\x02\x03" || got.Sealed != nil || string(got.Meta) != `{"a":1}` ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil || !got.CreatedAt.Equal(t0) {
		t.Fatalf("FindCredential = %+v", got)
	}
	got, err = s.GetCredential(ctx, "c3")
	must(t, err)
	if string(got.Public) != "PEM" || got.Kind != core.CredPublicKey {
		t.Fatalf("GetCredential = %+v", got)
	}
	_, err = s.FindCredential(ctx, core.CredAPIKey, "K1")
	wantErr(t, err, core.ErrNotFound)

	must(t, s.RenameCredential(ctx, "c1", "renamed"))
	wantErr(t, s.RenameCredential(ctx, "missing", "x"), core.ErrNotFound)
	must(t, s.RevokeCredential(ctx, "c2", t0.Add(time.Minute)))
	must(t, s.RevokeCredential(ctx, "c2", t0.Add(time.Hour))) // idempotent: first revocation time stays
	got, _ = s.GetCredential(ctx, "c2")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("RevokedAt = %v", got.RevokedAt)
	}

	tests := []struct {
		name      string
		f         core.CredentialFilter
		page      core.Page
		wantIDs   []string
		wantTotal int
	}{
		{"live in org", core.CredentialFilter{OrgID: "o"}, core.Page{}, []string{"c1"}, 1},
		{"with revoked", core.CredentialFilter{OrgID: "o", IncludeRevoked: true}, core.Page{}, []string{"c1", "c2"}, 2},
		{"by principal", core.CredentialFilter{PrincipalID: q.ID}, core.Page{}, []string{"c3"}, 1},
		{"by kind", core.CredentialFilter{Kind: core.CredAppToken, IncludeRevoked: true}, core.Page{}, []string{"c2"}, 1},
		{"paged", core.CredentialFilter{IncludeRevoked: true}, core.Page{Offset: 1, Limit: 1}, []string{"c2"}, 3},
		{"lookup prefix", core.CredentialFilter{LookupPrefix: "K", IncludeRevoked: true}, core.Page{}, []string{"c1", "c2"}, 2},
		{"lookup prefix is exact", core.CredentialFilter{LookupPrefix: "k"}, core.Page{}, nil, 0},
		{"lookup prefix is no pattern", core.CredentialFilter{LookupPrefix: "%"}, core.Page{}, nil, 0},
		{"whole lookup as prefix", core.CredentialFilter{LookupPrefix: "pk"}, core.Page{}, []string{"c3"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, total, err := s.ListCredentials(ctx, tt.f, tt.page)
			must(t, err)
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) || total != tt.wantTotal {
				t.Fatalf("got %v total %d, want %v total %d", ids, total, tt.wantIDs, tt.wantTotal)
			}
		})
	}
	got, _ = s.GetCredential(ctx, "c1")
	if got.Name != "renamed" {
		t.Fatalf("name = %q", got.Name)
	}
}

func newToken(id, family string, kind core.TokenKind, principal string, issued time.Time, ttl time.Duration) core.Token {
	tok := core.Token{ID: id, Hash: []byte("hash-" + id), Kind: kind, OrgID: "o", PrincipalID: principal, FamilyID: family, IssuedAt: issued}
	if ttl > 0 {
		e := issued.Add(ttl)
		tok.ExpiresAt = &e
	}
	return tok
}

func testTokens(t *testing.T, s core.Store) {
	ctx := context.Background()
	ren := t0.Add(2 * time.Hour)
	full := newToken("t1", "f1", core.TokenRefresh, "p", t0, time.Hour)
	full.CredentialID, full.ParentID, full.Scope, full.Binding, full.RenewableUntil, full.Meta = "c", "t0", "a b", "https://x", &ren, json.RawMessage(`{"k":"v"}`)
	full.PrincipalKind, full.CertThumbprint = core.PrincipalDevice, "x5t-thumbprint"
	must(t, s.CreateToken(ctx, full))
	must(t, s.CreateToken(ctx, newToken("t2", "f1", core.TokenAccess, "p", t0, time.Hour)))
	must(t, s.CreateToken(ctx, newToken("t3", "f3", core.TokenAccess, "p", t0, 0))) // eternal
	must(t, s.CreateToken(ctx, newToken("t4", "f4", core.TokenAccess, "other", t0, time.Minute)))
	wantErr(t, s.CreateToken(ctx, newToken("t1", "f1", core.TokenAccess, "p", t0, time.Hour)), core.ErrConflict)
	dupHash := newToken("t9", "f9", core.TokenAccess, "p", t0, time.Hour)
	dupHash.Hash = full.Hash
	wantErr(t, s.CreateToken(ctx, dupHash), core.ErrConflict)

	got, err := s.GetTokenByHash(ctx, []byte("hash-t1"))
	must(t, err)
	if got.ID != "t1" || got.Kind != core.TokenRefresh || got.CredentialID != "c" || got.ParentID != "t0" || got.Scope != "a b" ||
		got.Binding != "https://x" || !got.RenewableUntil.Equal(ren) || string(got.Meta) != `{"k":"v"}` || !got.IssuedAt.Equal(t0) ||
		got.RotatedAt != nil || got.RevokedAt != nil || got.PrincipalKind != core.PrincipalDevice || got.CertThumbprint != "x5t-thumbprint" {
		t.Fatalf("GetTokenByHash = %+v", got)
	}
	got, err = s.GetToken(ctx, "t3")
	must(t, err)
	if got.ExpiresAt != nil || got.RenewableUntil != nil {
		t.Fatalf("eternal token = %+v", got)
	}
	_, err = s.GetTokenByHash(ctx, []byte("nope"))
	wantErr(t, err, core.ErrNotFound)

	first, err := s.MarkTokenRotated(ctx, "t1", t0.Add(time.Minute))
	must(t, err)
	second, err := s.MarkTokenRotated(ctx, "t1", t0.Add(2*time.Minute))
	must(t, err)
	if !first || second {
		t.Fatalf("MarkTokenRotated = %v then %v, want true then false", first, second)
	}
	got, _ = s.GetToken(ctx, "t1")
	if got.RotatedAt == nil || !got.RotatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("RotatedAt = %v", got.RotatedAt)
	}

	must(t, s.UpdateTokenExpiry(ctx, "t2", t0.Add(5*time.Second)))
	got, _ = s.GetToken(ctx, "t2")
	if !got.ExpiresAt.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("ExpiresAt = %v", got.ExpiresAt)
	}
	wantErr(t, s.UpdateTokenExpiry(ctx, "missing", t0), core.ErrNotFound)

	n, err := s.CountActiveTokens(ctx, "p", core.TokenAccess, t0.Add(time.Second))
	must(t, err)
	if n != 2 {
		t.Fatalf("active access tokens = %d, want 2 (t2, t3)", n)
	}
	n, _ = s.CountActiveTokens(ctx, "p", core.TokenAccess, t0.Add(10*time.Second))
	if n != 1 {
		t.Fatalf("after t2 expired: %d, want 1", n)
	}

	must(t, s.RevokeToken(ctx, "t3", t0.Add(time.Minute)))
	must(t, s.RevokeToken(ctx, "t3", t0.Add(time.Hour)))
	wantErr(t, s.RevokeToken(ctx, "missing", t0), core.ErrNotFound)
	revoked, err := s.RevokeTokenFamily(ctx, "f1", t0.Add(2*time.Minute))
	must(t, err)
	if revoked != 2 {
		t.Fatalf("family revoked %d, want 2", revoked)
	}
	again, _ := s.RevokeTokenFamily(ctx, "f1", t0.Add(3*time.Minute))
	if again != 0 {
		t.Fatalf("second family revocation revoked %d", again)
	}
	byPrincipal, err := s.RevokePrincipalTokens(ctx, "other", t0.Add(4*time.Minute))
	must(t, err)
	if byPrincipal != 1 {
		t.Fatalf("principal revocation = %d", byPrincipal)
	}
	hashes, err := s.ListRevokedSince(ctx, t0.Add(2*time.Minute))
	must(t, err)
	// t1, t2 (family) and t4 (principal); t3 was revoked before since.
	var names []string
	for _, h := range hashes {
		names = append(names, string(h))
	}
	slices.Sort(names)
	if want := []string{"hash-t1", "hash-t2", "hash-t4"}; !slices.Equal(names, want) {
		t.Fatalf("ListRevokedSince = %q, want %q", names, want)
	}

	live := newToken("t5", "f5", core.TokenRefresh, "p", t0, time.Minute)
	live.RenewableUntil = &ren // expired but still renewable: kept
	must(t, s.CreateToken(ctx, live))
	purged, err := s.PurgeTokens(ctx, t0.Add(3*time.Minute))
	must(t, err)
	// t1 revoked at +2m, t2 expired at +5s, t3 revoked at +1m, t4 expired at +1m.
	if purged != 4 {
		t.Fatalf("purged %d, want 4", purged)
	}
	if _, err := s.GetToken(ctx, "t5"); err != nil {
		t.Fatalf("renewable token purged: %v", err)
	}
}

// testTokenCredentialRevocation: revoking by credential revokes every live
// token issued on it (all kinds, every family) and nothing else.
func testTokenCredentialRevocation(t *testing.T, s core.Store) {
	ctx := context.Background()
	mk := func(id, family, cred string, kind core.TokenKind) {
		tok := newToken(id, family, kind, "p", t0, time.Hour)
		tok.CredentialID = cred
		must(t, s.CreateToken(ctx, tok))
	}
	mk("c1", "fa", "cert", core.TokenAccess)
	mk("c2", "fa", "cert", core.TokenRefresh)
	mk("c3", "fb", "cert", core.TokenAccess)
	mk("c4", "fc", "key", core.TokenAccess)
	mk("c5", "fd", "", core.TokenAccess)
	must(t, s.RevokeToken(ctx, "c3", t0.Add(time.Second)))
	n, err := s.RevokeCredentialTokens(ctx, "cert", t0.Add(time.Minute))
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeCredentialTokens = %d, want 2 (c1, c2; c3 was already revoked)", n)
	}
	for id, revoked := range map[string]bool{"c1": true, "c2": true, "c3": true, "c4": false, "c5": false} {
		got, err := s.GetToken(ctx, id)
		must(t, err)
		if (got.RevokedAt != nil) != revoked {
			t.Errorf("token %s revoked = %v, want %v", id, got.RevokedAt != nil, revoked)
		}
	}
	if got, _ := s.GetToken(ctx, "c3"); !got.RevokedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("an earlier revocation time was overwritten: %v", got.RevokedAt)
	}
	if _, err := s.RevokeCredentialTokens(ctx, "", t0); err == nil {
		t.Error("RevokeCredentialTokens with no credential id must fail, not revoke every token without one")
	}
}

func testTokenBatch(t *testing.T, s core.Store) {
	bw, ok := s.(core.BatchWriter)
	if !ok {
		t.Skip("backend has no batch writer")
	}
	ctx := context.Background()
	toks := []core.Token{newToken("b1", "b1", core.TokenAccess, "p", t0, time.Hour), newToken("b2", "b1", core.TokenRefresh, "p", t0, 0)}
	toks[0].PrincipalKind, toks[0].CertThumbprint, toks[0].CredentialID = core.PrincipalDevice, "bound-b1", "cred-b1"
	events := []core.AuditEvent{{At: t0, Action: core.AuditIssue, Protocol: "oauth2", Subject: "b1", Outcome: core.OutcomeSuccess}}
	must(t, bw.WriteBatch(ctx, toks, events))
	for _, id := range []string{"b1", "b2"} {
		if _, err := s.GetToken(ctx, id); err != nil {
			t.Fatalf("batched token %s: %v", id, err)
		}
	}
	if got, _ := s.GetToken(ctx, "b1"); got.PrincipalKind != core.PrincipalDevice || got.CertThumbprint != "bound-b1" || got.CredentialID != "cred-b1" {
		t.Fatalf("batched token fields = %+v", got)
	}
	list, err := s.ListAudit(ctx, core.AuditFilter{Action: core.AuditIssue})
	must(t, err)
	if len(list) != 1 || list[0].Subject != "b1" {
		t.Fatalf("batched audit = %+v", list)
	}
	// A conflicting row fails the whole batch: nothing of it is visible.
	err = bw.WriteBatch(ctx, []core.Token{newToken("b3", "b3", core.TokenAccess, "p", t0, 0), newToken("b1", "b1", core.TokenAccess, "p", t0, 0)},
		[]core.AuditEvent{{At: t0, Action: "batch-fail", Protocol: "x", Outcome: core.OutcomeSuccess}})
	if err == nil {
		t.Fatal("conflicting batch committed")
	}
	if _, err := s.GetToken(ctx, "b3"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("partial batch visible: %v", err)
	}
	if list, _ := s.ListAudit(ctx, core.AuditFilter{Action: "batch-fail"}); len(list) != 0 {
		t.Fatal("audit of a failed batch is visible")
	}
}

func testReplay(t *testing.T, s core.Store) {
	ctx := context.Background()
	tests := []struct {
		key       string
		expires   time.Time
		now       time.Time
		wantFresh bool
	}{
		{"a", t0.Add(time.Minute), t0, true},
		{"a", t0.Add(time.Minute), t0.Add(30 * time.Second), false},
		{"b", t0.Add(time.Minute), t0, true},
		{"a", t0.Add(3 * time.Minute), t0.Add(time.Minute), true}, // expired entry is taken over
		{"a", t0.Add(3 * time.Minute), t0.Add(2 * time.Minute), false},
	}
	for i, tt := range tests {
		fresh, err := s.InsertReplayKey(ctx, tt.key, tt.expires, tt.now)
		must(t, err)
		if fresh != tt.wantFresh {
			t.Fatalf("step %d: InsertReplayKey(%s) = %v, want %v", i, tt.key, fresh, tt.wantFresh)
		}
	}
	n, err := s.PurgeReplayKeys(ctx, t0.Add(2*time.Minute))
	must(t, err)
	if n != 1 { // b expired at +1m; a lives until +3m
		t.Fatalf("purged %d", n)
	}
	fresh, _ := s.InsertReplayKey(ctx, "a", t0.Add(4*time.Minute), t0.Add(2*time.Minute))
	if fresh {
		t.Fatal("purge removed a live key")
	}
	_, err = s.InsertReplayKey(ctx, "c", t0.Add(150*time.Second), t0.Add(2*time.Minute))
	must(t, err)
	scanned := map[string]time.Time{}
	must(t, s.ScanReplayKeys(ctx, t0.Add(2*time.Minute+30*time.Second), func(key string, expires time.Time) error {
		scanned[key] = expires
		return nil
	}))
	if len(scanned) != 1 || !scanned["a"].Equal(t0.Add(3*time.Minute)) { // c expires at the scan's now: not live
		t.Fatalf("ScanReplayKeys = %v, want only a until +3m", scanned)
	}
	stop := errors.New("stop")
	if err := s.ScanReplayKeys(ctx, t0, func(string, time.Time) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ScanReplayKeys kept going after fn failed: %v", err)
	}
}

// testReplayConcurrent: two goroutines insert the same 10,000 keys; each
// key must be accepted exactly once.
func testReplayConcurrent(t *testing.T, s core.Store) {
	const keys, workers = 10_000, 2
	ctx := context.Background()
	var accepted atomic.Int64
	perKey := make([]atomic.Int32, keys)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				fresh, err := s.InsertReplayKey(ctx, fmt.Sprintf("jti-%d", i), t0.Add(time.Hour), t0)
				if err != nil {
					errc <- err
					return
				}
				if fresh {
					accepted.Add(1)
					perKey[i].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if accepted.Load() != keys {
		t.Fatalf("accepted %d of %d keys", accepted.Load(), keys)
	}
	for i := range perKey {
		if perKey[i].Load() != 1 {
			t.Fatalf("key %d accepted %d times", i, perKey[i].Load())
		}
	}
}

func testReplayBatch(t *testing.T, s core.Store) {
	rb, ok := s.(core.ReplayBatcher)
	if !ok {
		t.Skip("backend has no replay batcher")
	}
	ctx := context.Background()
	_, err := s.InsertReplayKey(ctx, "live", t0.Add(time.Hour), t0)
	must(t, err)
	_, err = s.InsertReplayKey(ctx, "stale", t0.Add(time.Second), t0)
	must(t, err)
	exp := t0.Add(time.Hour)
	fresh, err := rb.InsertReplayKeys(ctx, []core.ReplayEntry{{Key: "new", Expires: exp}, {Key: "live", Expires: exp}, {Key: "stale", Expires: exp}, {Key: "new", Expires: exp}}, t0.Add(time.Minute))
	must(t, err)
	// new is fresh once, live is a replay, the expired stale entry is taken over.
	if want := []bool{true, false, true, false}; !slices.Equal(fresh, want) {
		t.Fatalf("InsertReplayKeys = %v, want %v", fresh, want)
	}
	if ok, _ := s.InsertReplayKey(ctx, "new", exp, t0.Add(time.Minute)); ok {
		t.Fatal("batched key not stored")
	}
	if fresh, err := rb.InsertReplayKeys(ctx, nil, t0); err != nil || len(fresh) != 0 {
		t.Fatalf("empty batch = %v, %v", fresh, err)
	}
}

// testReplayBatchConcurrent: two nodes' batches carry the same keys in
// opposite orders; each key is accepted exactly once and no batch fails
// (on PostgreSQL, unordered row locks would deadlock here).
func testReplayBatchConcurrent(t *testing.T, s core.Store) {
	rb, ok := s.(core.ReplayBatcher)
	if !ok {
		t.Skip("backend has no replay batcher")
	}
	const keys, batch = 4000, 100
	ctx := context.Background()
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < keys; start += batch {
				entries := make([]core.ReplayEntry, 0, batch)
				for i := start; i < start+batch; i++ {
					k := i
					if w == 1 { // the other node sees the keys in reverse order
						k = start + batch - 1 - (i - start)
					}
					entries = append(entries, core.ReplayEntry{Key: fmt.Sprintf("b-%d", k), Expires: t0.Add(time.Hour)})
				}
				fresh, err := rb.InsertReplayKeys(ctx, entries, t0)
				if err != nil {
					t.Error(err)
					return
				}
				for _, f := range fresh {
					if f {
						accepted.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != keys {
		t.Fatalf("accepted %d of %d keys", accepted.Load(), keys)
	}
}

func testAudit(t *testing.T, s core.Store) {
	ctx := context.Background()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	must(t, s.AppendAudit(ctx,
		core.AuditEvent{At: t0, Action: core.AuditIssue, Protocol: "oauth2", OrgID: "o", PrincipalID: "p", Subject: "key", Outcome: core.OutcomeSuccess, RemoteAddr: "127.0.0.1", RequestID: "r1"},
		core.AuditEvent{At: t0.Add(time.Second), Action: core.AuditAuthFailure, Protocol: "tpv", OrgID: "o", Outcome: core.OutcomeFailure, Reason: string(long)},
	))
	must(t, s.AppendAudit(ctx, core.AuditEvent{At: t0.Add(2 * time.Second), Action: core.AuditRevoke, Protocol: "oauth2", OrgID: "o2", Outcome: core.OutcomeSuccess}))
	must(t, s.AppendAudit(ctx)) // nothing to do
	all, err := s.ListAudit(ctx, core.AuditFilter{})
	must(t, err)
	if len(all) != 3 || all[0].Action != core.AuditRevoke || all[2].RequestID != "r1" || !all[2].At.Equal(t0) {
		t.Fatalf("newest first expected: %+v", all)
	}
	if len(all[1].Reason) > 1024 {
		t.Fatalf("reason not clipped: %d bytes", len(all[1].Reason))
	}
	tests := []struct {
		name string
		f    core.AuditFilter
		want int
	}{
		{"by org", core.AuditFilter{OrgID: "o"}, 2},
		{"by action", core.AuditFilter{Action: core.AuditAuthFailure}, 1},
		{"by protocol", core.AuditFilter{Protocol: "oauth2"}, 2},
		{"since", core.AuditFilter{Since: t0.Add(time.Second)}, 2},
		{"until", core.AuditFilter{Until: t0.Add(time.Second)}, 1},
		{"since and until", core.AuditFilter{Since: t0.Add(time.Second), Until: t0.Add(2 * time.Second)}, 1},
		{"by principal", core.AuditFilter{PrincipalID: "p"}, 1},
		{"by outcome", core.AuditFilter{Outcome: core.OutcomeFailure}, 1},
		{"org and outcome", core.AuditFilter{OrgID: "o", Outcome: core.OutcomeSuccess}, 1},
		{"before the newest", core.AuditFilter{BeforeID: all[0].ID}, 2},
		{"before the oldest", core.AuditFilter{BeforeID: all[2].ID}, 0},
		{"limit", core.AuditFilter{Limit: 1}, 1},
	}
	for _, tt := range tests {
		list, err := s.ListAudit(ctx, tt.f)
		must(t, err)
		if len(list) != tt.want {
			t.Errorf("%s: %d events, want %d", tt.name, len(list), tt.want)
		}
	}
	// Paging with the cursor visits every event once, newest first.
	var paged []int64
	for f := (core.AuditFilter{Limit: 2}); ; {
		page, err := s.ListAudit(ctx, f)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		f.BeforeID = page[len(page)-1].ID
	}
	if len(paged) != 3 || paged[0] != all[0].ID || paged[2] != all[2].ID {
		t.Fatalf("paged ids %v, want those of %+v", paged, all)
	}
	// Retention: the purge removes the old events, oldest first, bounded per call.
	n, err := s.PurgeAudit(ctx, t0.Add(2*time.Second), 1)
	must(t, err)
	if n != 1 {
		t.Fatalf("PurgeAudit with limit 1 removed %d", n)
	}
	if left, _ := s.ListAudit(ctx, core.AuditFilter{}); len(left) != 2 || left[1].ID != all[1].ID {
		t.Fatalf("after purging the oldest: %+v", left)
	}
	n, err = s.PurgeAudit(ctx, t0.Add(2*time.Second), 100)
	must(t, err)
	if left, _ := s.ListAudit(ctx, core.AuditFilter{}); n != 1 || len(left) != 1 || left[0].ID != all[0].ID {
		t.Fatalf("after purging before t0+2s (%d removed): %+v", n, left)
	}
}

func testDocuments(t *testing.T, s core.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		org := "o1"
		if i == 2 {
			org = "o2"
		}
		must(t, s.PutDocument(ctx, core.Document{Collection: "tpv.records", ID: fmt.Sprintf("d%d", i), OrgID: org,
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: t0.Add(time.Duration(i) * time.Second)}))
	}
	must(t, s.PutDocument(ctx, core.Document{Collection: "other", ID: "d0", Data: json.RawMessage(`{}`), CreatedAt: t0}))
	wantErr(t, s.PutDocument(ctx, core.Document{Collection: "tpv.records", ID: "d0", Data: json.RawMessage(`{}`), CreatedAt: t0}), core.ErrConflict)
	wantErr(t, s.PutDocument(ctx, core.Document{Collection: "tpv.records", ID: "empty", CreatedAt: t0}), core.ErrInvalidInput)

	d, err := s.GetDocument(ctx, "tpv.records", "d1")
	must(t, err)
	if d.Version != 1 || string(d.Data) != `{"n":1}` || d.OrgID != "o1" || !d.CreatedAt.Equal(t0.Add(time.Second)) || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Fatalf("GetDocument = %+v", d)
	}
	d.Data, d.UpdatedAt = json.RawMessage(`{"n":10}`), t0.Add(time.Hour)
	upd, err := s.UpdateDocument(ctx, d)
	must(t, err)
	if upd.Version != 2 || string(upd.Data) != `{"n":10}` || !upd.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("UpdateDocument = %+v", upd)
	}
	_, err = s.UpdateDocument(ctx, d) // stale version 1
	wantErr(t, err, core.ErrConflict)
	_, err = s.UpdateDocument(ctx, core.Document{Collection: "tpv.records", ID: "missing", Version: 1, Data: json.RawMessage(`{}`)})
	wantErr(t, err, core.ErrNotFound)

	list, total, err := s.ListDocuments(ctx, "tpv.records", "o1", core.Page{})
	must(t, err)
	if total != 2 || len(list) != 2 || list[0].ID != "d1" {
		t.Fatalf("list o1 = %+v total %d (want newest first)", list, total)
	}
	list, total, err = s.ListDocuments(ctx, "tpv.records", "", core.Page{Limit: 1})
	must(t, err)
	if total != 3 || len(list) != 1 || list[0].ID != "d2" {
		t.Fatalf("list all = %+v total %d", list, total)
	}
	must(t, s.DeleteDocument(ctx, "tpv.records", "d0"))
	wantErr(t, s.DeleteDocument(ctx, "tpv.records", "d0"), core.ErrNotFound)
	if _, err := s.GetDocument(ctx, "other", "d0"); err != nil {
		t.Fatalf("delete crossed collections: %v", err)
	}
}

func testJobs(t *testing.T, s core.Store) {
	ctx := context.Background()
	for i, runAt := range []time.Time{t0, t0.Add(time.Second), t0.Add(time.Hour)} {
		must(t, s.EnqueueJob(ctx, core.Job{ID: fmt.Sprintf("j%d", i), Queue: "notify", Payload: json.RawMessage(`{"i":1}`), RunAt: runAt, CreatedAt: t0}))
	}
	must(t, s.EnqueueJob(ctx, core.Job{ID: "other", Queue: "other", Payload: json.RawMessage(`{}`), RunAt: t0, CreatedAt: t0}))
	wantErr(t, s.EnqueueJob(ctx, core.Job{ID: "j0", Queue: "notify", Payload: json.RawMessage(`{}`), RunAt: t0, CreatedAt: t0}), core.ErrConflict)

	now := t0.Add(2 * time.Second)
	for _, limit := range []int{0, -1} {
		none, err := s.ClaimJobs(ctx, "notify", now, time.Minute, limit)
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("ClaimJobs(limit %d) leased %d jobs", limit, len(none))
		}
	}
	claimed, err := s.ClaimJobs(ctx, "notify", now, time.Minute, 10)
	must(t, err)
	if len(claimed) != 2 || claimed[0].ID != "j0" || claimed[1].ID != "j1" || claimed[0].Attempts != 1 || string(claimed[0].Payload) != `{"i":1}` {
		t.Fatalf("first claim = %+v", claimed)
	}
	if claimed[0].LockedUntil == nil || !claimed[0].LockedUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("lease = %v", claimed[0].LockedUntil)
	}
	again, err := s.ClaimJobs(ctx, "notify", now.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(again) != 0 {
		t.Fatalf("leased jobs claimed twice: %+v", again)
	}
	must(t, s.CompleteJob(ctx, "j0", now))
	must(t, s.RetryJob(ctx, "j1", now.Add(10*time.Second), "partner did not answer"))
	j1, err := s.GetJob(ctx, "j1")
	must(t, err)
	if j1.LockedUntil != nil || j1.LastError != "partner did not answer" || !j1.RunAt.Equal(now.Add(10*time.Second)) {
		t.Fatalf("retried job = %+v", j1)
	}
	later, err := s.ClaimJobs(ctx, "notify", now.Add(11*time.Second), time.Minute, 10)
	must(t, err)
	if len(later) != 1 || later[0].ID != "j1" || later[0].Attempts != 2 {
		t.Fatalf("retry claim = %+v", later)
	}
	must(t, s.FailJob(ctx, "j1", now.Add(12*time.Second), "gave up"))
	// An expired lease is claimable again.
	must(t, s.EnqueueJob(ctx, core.Job{ID: "j9", Queue: "lease", Payload: json.RawMessage(`{}`), RunAt: t0, CreatedAt: t0}))
	first, _ := s.ClaimJobs(ctx, "lease", t0, time.Second, 1)
	stolen, _ := s.ClaimJobs(ctx, "lease", t0.Add(2*time.Second), time.Second, 1)
	if len(first) != 1 || len(stolen) != 1 || stolen[0].Attempts != 2 {
		t.Fatalf("expired lease not reclaimed: %+v %+v", first, stolen)
	}
	final, err := s.ClaimJobs(ctx, "notify", t0.Add(48*time.Hour), time.Minute, 10)
	must(t, err)
	if len(final) != 1 || final[0].ID != "j2" {
		t.Fatalf("done/failed jobs must not be claimed: %+v", final)
	}
	j0, _ := s.GetJob(ctx, "j0")
	j1, _ = s.GetJob(ctx, "j1")
	if j0.DoneAt == nil || j1.FailedAt == nil || j1.LastError != "gave up" {
		t.Fatalf("terminal states: %+v %+v", j0, j1)
	}
	_, err = s.GetJob(ctx, "missing")
	wantErr(t, err, core.ErrNotFound)
	wantErr(t, s.CompleteJob(ctx, "missing", now), core.ErrNotFound)
	// The outbox depth: j0 done (not counted), j1 failed, j2 pending (leased
	// or not), "other" and "j9" pending in their queues.
	counts, err := s.CountJobs(ctx)
	must(t, err)
	want := []core.JobCount{{Queue: "lease", State: core.JobPending, Jobs: 1}, {Queue: "notify", State: core.JobFailed, Jobs: 1},
		{Queue: "notify", State: core.JobPending, Jobs: 1}, {Queue: "other", State: core.JobPending, Jobs: 1}}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("CountJobs = %v, want %v", counts, want)
	}
	for _, tt := range []struct {
		f       core.JobFilter
		page    core.Page
		wantIDs string
		total   int
	}{
		{core.JobFilter{}, core.Page{}, "[other j9 j2 j1 j0]", 5},
		{core.JobFilter{Queues: []string{"notify"}}, core.Page{}, "[j2 j1 j0]", 3},
		{core.JobFilter{Queues: []string{"notify", "lease"}, State: core.JobPending}, core.Page{}, "[j9 j2]", 2},
		{core.JobFilter{State: core.JobFailed}, core.Page{}, "[j1]", 1},
		{core.JobFilter{State: core.JobDone}, core.Page{}, "[j0]", 1},
		{core.JobFilter{Queues: []string{"none"}}, core.Page{}, "[]", 0},
		{core.JobFilter{}, core.Page{Offset: 1, Limit: 2}, "[j9 j2]", 5},
	} {
		js, total, err := s.ListJobs(ctx, tt.f, tt.page)
		must(t, err)
		ids := []string{}
		for _, j := range js {
			ids = append(ids, j.ID)
		}
		if fmt.Sprint(ids) != tt.wantIDs || total != tt.total {
			t.Fatalf("ListJobs(%+v, %+v) = %v (total %d), want %s (total %d)", tt.f, tt.page, ids, total, tt.wantIDs, tt.total)
		}
	}
	_, _, err = s.ListJobs(ctx, core.JobFilter{State: "stuck"}, core.Page{})
	wantErr(t, err, core.ErrInvalidInput)
	// Only a failed job is requeued; it keeps its attempts and last error.
	wantErr(t, s.RequeueJob(ctx, "j0", now), core.ErrConflict) // done
	wantErr(t, s.RequeueJob(ctx, "j2", now), core.ErrConflict) // pending
	wantErr(t, s.RequeueJob(ctx, "missing", now), core.ErrNotFound)
	rerun := t0.Add(72 * time.Hour)
	must(t, s.RequeueJob(ctx, "j1", rerun))
	wantErr(t, s.RequeueJob(ctx, "j1", rerun), core.ErrConflict) // pending again
	j1, _ = s.GetJob(ctx, "j1")
	if j1.FailedAt != nil || j1.LockedUntil != nil || !j1.RunAt.Equal(rerun) || j1.Attempts != 2 || j1.LastError != "gave up" {
		t.Fatalf("requeued job = %+v", j1)
	}
	if due, err := s.ClaimJobs(ctx, "notify", rerun, time.Minute, 10); err != nil || len(due) != 2 || due[1].ID != "j1" || due[1].Attempts != 3 {
		t.Fatalf("claim after requeue = %+v, %v", due, err)
	}
}

func testCounters(t *testing.T, s core.Store) {
	ctx := context.Background()
	w1, w2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	steps := []struct {
		key   string
		end   time.Time
		delta int64
		want  int64
	}{
		{"k", w1, 1, 1},
		{"k", w1, 2, 3},
		{"k", w2, 1, 1},
		{"other", w1, 5, 5},
		{"k", w1, 0, 3},
	}
	for i, st := range steps {
		v, err := s.AddToCounter(ctx, st.key, st.end, st.delta)
		must(t, err)
		if v != st.want {
			t.Fatalf("step %d: counter = %d, want %d", i, v, st.want)
		}
	}
	if r, ok := s.(core.CounterReader); ok {
		got, err := r.ReadCounters(ctx, []string{"k", "other", "absent"}, []time.Time{w1, w2})
		must(t, err)
		if got["k"] != 4 || got["other"] != 5 || got["absent"] != 0 {
			t.Fatalf("ReadCounters = %v", got)
		}
	}
	// CounterValues reads exact windows and creates nothing: reading an
	// absent counter leaves PurgeCounters below with the same two rows.
	refs := []core.CounterRef{{Key: "k", WindowEnd: w1}, {Key: "k", WindowEnd: w2}, {Key: "other", WindowEnd: w2},
		{Key: "absent", WindowEnd: w1}, {Key: "other", WindowEnd: w1}}
	for i := 0; i < 300; i++ { // more keys than one query takes
		refs = append(refs, core.CounterRef{Key: fmt.Sprintf("absent-%d", i), WindowEnd: w1})
	}
	refs = append(refs, core.CounterRef{Key: "k", WindowEnd: w1})
	vals, err := s.CounterValues(ctx, refs)
	must(t, err)
	if len(vals) != len(refs) || vals[0] != 3 || vals[1] != 1 || vals[2] != 0 || vals[3] != 0 || vals[4] != 5 || vals[len(vals)-1] != 3 {
		t.Fatalf("CounterValues = %v", vals[:5])
	}
	for i, v := range vals[5 : len(vals)-1] {
		if v != 0 {
			t.Fatalf("absent-%d = %d", i, v)
		}
	}
	if vals, err := s.CounterValues(ctx, nil); err != nil || len(vals) != 0 {
		t.Fatalf("CounterValues(nil) = %v, %v", vals, err)
	}
	n, err := s.PurgeCounters(ctx, w1)
	must(t, err)
	if n != 2 {
		t.Fatalf("purged %d counters, want 2", n)
	}
	v, _ := s.AddToCounter(ctx, "k", w2, 0)
	if v != 1 {
		t.Fatalf("live window purged: %d", v)
	}
}

// testTokenRotatedOnce: concurrent rotations of one refresh token (two
// nodes redeeming it at once) must let exactly one caller win.
func testTokenRotatedOnce(t *testing.T, s core.Store) {
	ctx := context.Background()
	wins := raceOnTokens(t, s, "r", 20, 4, func(id string) (bool, error) {
		return s.MarkTokenRotated(ctx, id, t0.Add(time.Minute))
	})
	for i, n := range wins {
		if n != 1 {
			t.Fatalf("token r%d rotated by %d callers, want exactly 1", i, n)
		}
	}
	won, err := s.MarkTokenRotated(ctx, "missing", t0)
	must(t, err)
	if won {
		t.Fatal("a missing token was marked rotated")
	}
}

// testTokenExchangeBounded: a refresh token is exchanged at most max times,
// the later ones only while the first exchange is no older than since, and
// racing exchangers (several nodes) together win exactly max times.
func testTokenExchangeBounded(t *testing.T, s core.Store) {
	ctx := context.Background()
	must(t, s.CreateToken(ctx, newToken("x1", "f", core.TokenRefresh, "p", t0, time.Hour)))
	first := t0.Add(time.Minute)
	exchanges := []struct {
		at, since time.Time
		max, want int
	}{
		{first, first.Add(-time.Hour), 2, 1},                        // first exchange: always allowed
		{first.Add(20 * time.Second), first.Add(time.Second), 2, 0}, // first exchange older than since
		{first.Add(5 * time.Second), first, 2, 2},                   // second, inside the window
		{first.Add(6 * time.Second), first, 2, 0},                   // third: over max
		{first.Add(6 * time.Second), first.Add(-time.Hour), 3, 3},   // a larger max allows one more
	}
	for i, x := range exchanges {
		n, err := s.CountTokenExchange(ctx, "x1", x.at, x.since, x.max)
		must(t, err)
		if n != x.want {
			t.Fatalf("exchange %d: CountTokenExchange = %d, want %d", i, n, x.want)
		}
	}
	got, err := s.GetToken(ctx, "x1")
	must(t, err)
	if got.RotatedAt == nil || !got.RotatedAt.Equal(first) {
		t.Fatalf("RotatedAt = %v, want the first exchange %v", got.RotatedAt, first)
	}
	// A token rotated without counting (MarkTokenRotated) counts as exchanged once.
	must(t, s.CreateToken(ctx, newToken("x2", "f", core.TokenRefresh, "p", t0, time.Hour)))
	if _, err := s.MarkTokenRotated(ctx, "x2", first); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountTokenExchange(ctx, "x2", first, first, 1); err != nil || n != 0 {
		t.Fatalf("exchange of a rotated token with max 1 = %d, %v", n, err)
	}
	if n, err := s.CountTokenExchange(ctx, "missing", first, first, 2); err != nil || n != 0 {
		t.Fatalf("exchange of a missing token = %d, %v", n, err)
	}

	const max = 2
	wins := raceOnTokens(t, s, "c", 10, 8, func(id string) (bool, error) {
		n, err := s.CountTokenExchange(ctx, id, first, t0, max)
		return n > 0, err
	})
	for i, n := range wins {
		if n != max {
			t.Fatalf("token c%d exchanged %d times by racing callers, want exactly %d", i, n, max)
		}
	}
}

// raceOnTokens creates refresh tokens prefix0..prefixN-1, lets callers
// goroutines each try every one of them in order, and returns per token
// how many tries succeeded.
func raceOnTokens(t *testing.T, s core.Store, prefix string, tokens, callers int, try func(id string) (bool, error)) []int32 {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < tokens; i++ {
		must(t, s.CreateToken(ctx, newToken(fmt.Sprintf("%s%d", prefix, i), "f", core.TokenRefresh, "p", t0, time.Hour)))
	}
	wins := make([]atomic.Int32, tokens)
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < tokens; i++ {
				won, err := try(fmt.Sprintf("%s%d", prefix, i))
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					wins[i].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	out := make([]int32, tokens)
	for i := range wins {
		out[i] = wins[i].Load()
	}
	return out
}

// testTokenSuccessorOnce: of the children of one refresh token, the first
// recorded is its only successor, for any number of racing callers; the
// winner may be recorded again; other families and purged parents refuse
// nothing.
func testTokenSuccessorOnce(t *testing.T, s core.Store) {
	ctx := context.Background()
	must(t, s.CreateToken(ctx, newToken("p1", "f", core.TokenRefresh, "p", t0, time.Hour)))
	const children = 8
	wins := make([]atomic.Int32, children)
	var wg sync.WaitGroup
	for i := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ChooseTokenSuccessor(ctx, "p1", fmt.Sprintf("child%d", i), "f")
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				wins[i].Add(1)
			}
		}()
	}
	wg.Wait()
	winner := -1
	for i := range wins {
		if wins[i].Load() == 1 {
			if winner >= 0 {
				t.Fatalf("children %d and %d both recorded as successor", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no child recorded as successor")
	}
	if ok, err := s.ChooseTokenSuccessor(ctx, "p1", fmt.Sprintf("child%d", winner), "f"); err != nil || !ok {
		t.Fatalf("the successor again = %v, %v", ok, err)
	}
	if ok, err := s.ChooseTokenSuccessor(ctx, "p1", "late", "f"); err != nil || ok {
		t.Fatalf("a later sibling = %v, %v", ok, err)
	}
	if ok, err := s.ChooseTokenSuccessor(ctx, "p1", "x", "other-family"); err != nil || !ok {
		t.Fatalf("a parent of another family = %v, %v", ok, err)
	}
	if ok, err := s.ChooseTokenSuccessor(ctx, "purged", "x", "f"); err != nil || !ok {
		t.Fatalf("a missing parent = %v, %v", ok, err)
	}
}

// testJobsClaimedOnce: claimers racing on one queue (several nodes'
// workers) each get disjoint jobs, and together all of them.
// testJobsPurged: PurgeJobs deletes done and failed jobs by the time they
// finished, at most limit per call, oldest first, and never a pending,
// leased or requeued one whatever its age.
func testJobsPurged(t *testing.T, s core.Store) {
	ctx := context.Background()
	old, recent := t0, t0.Add(10*time.Hour) // purges below cut at t0+5h
	cut := t0.Add(5 * time.Hour)
	enqueue := func(id string) {
		t.Helper()
		runAt := t0.Add(-time.Hour)
		if id == "leased" {
			runAt = runAt.Add(-time.Hour) // the first one claimed
		}
		must(t, s.EnqueueJob(ctx, core.Job{ID: id, Queue: "purge", Payload: json.RawMessage(`{}`), RunAt: runAt, CreatedAt: t0.Add(-time.Hour)}))
	}
	for i := 0; i < 3; i++ { // done long ago, one second apart
		enqueue(fmt.Sprintf("done-old-%d", i))
		must(t, s.CompleteJob(ctx, fmt.Sprintf("done-old-%d", i), old.Add(time.Duration(i)*time.Second)))
	}
	enqueue("done-recent")
	must(t, s.CompleteJob(ctx, "done-recent", recent))
	enqueue("failed-old")
	must(t, s.FailJob(ctx, "failed-old", old, "gave up"))
	enqueue("failed-recent")
	must(t, s.FailJob(ctx, "failed-recent", recent, "gave up"))
	enqueue("requeued") // failed long ago, then requeued: pending again
	must(t, s.FailJob(ctx, "requeued", old, "gave up"))
	must(t, s.RequeueJob(ctx, "requeued", t0.Add(-time.Hour)))
	enqueue("pending") // created long before the cut, never finished
	enqueue("leased")
	if claimed, err := s.ClaimJobs(ctx, "purge", t0, 100*time.Hour, 1); err != nil || len(claimed) != 1 || claimed[0].ID != "leased" {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}

	for _, state := range []string{"", core.JobPending, "running"} {
		if _, err := s.PurgeJobs(ctx, state, recent.Add(time.Hour), 100); core.KindOf(err) != core.KindInvalidInput {
			t.Errorf("PurgeJobs(state %q) = %v, want invalid input", state, err)
		}
	}
	// The batch bound: one done job per call, the oldest first.
	for i := 0; i < 3; i++ {
		n, err := s.PurgeJobs(ctx, core.JobDone, cut, 1)
		must(t, err)
		if n != 1 {
			t.Fatalf("PurgeJobs(done, limit 1) call %d removed %d", i, n)
		}
		if _, err := s.GetJob(ctx, fmt.Sprintf("done-old-%d", i)); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("call %d did not remove the oldest done job: %v", i, err)
		}
	}
	if n, err := s.PurgeJobs(ctx, core.JobDone, cut, 100); err != nil || n != 0 {
		t.Fatalf("PurgeJobs(done) with none left = %d, %v", n, err)
	}
	if n, err := s.PurgeJobs(ctx, core.JobFailed, cut, 100); err != nil || n != 1 {
		t.Fatalf("PurgeJobs(failed) = %d, %v; want failed-old only", n, err)
	}
	wantErr(t, func() error { _, err := s.GetJob(ctx, "failed-old"); return err }(), core.ErrNotFound)
	for _, id := range []string{"done-recent", "failed-recent", "requeued", "pending", "leased"} {
		if _, err := s.GetJob(ctx, id); err != nil {
			t.Errorf("%s purged: %v", id, err)
		}
	}
	// Even a cut far in the future removes only finished jobs.
	if n, err := s.PurgeJobs(ctx, core.JobDone, recent.Add(1000*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("PurgeJobs(done, far future) = %d, %v; want done-recent", n, err)
	}
	if n, err := s.PurgeJobs(ctx, core.JobFailed, recent.Add(1000*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("PurgeJobs(failed, far future) = %d, %v; want failed-recent", n, err)
	}
	left, total, err := s.ListJobs(ctx, core.JobFilter{Queues: []string{"purge"}}, core.Page{})
	must(t, err)
	var ids []string
	for _, j := range left {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	if want := []string{"leased", "pending", "requeued"}; total != 3 || !slices.Equal(ids, want) {
		t.Fatalf("jobs left = %v (total %d), want %v", ids, total, want)
	}
}

func testJobsClaimedOnce(t *testing.T, s core.Store) {
	ctx := context.Background()
	const jobs, claimers = 60, 4
	for i := 0; i < jobs; i++ {
		must(t, s.EnqueueJob(ctx, core.Job{ID: fmt.Sprintf("q%02d", i), Queue: "race", Payload: json.RawMessage(`{}`), RunAt: t0, CreatedAt: t0}))
	}
	var mu sync.Mutex
	claimedBy := map[string]int{}
	var wg sync.WaitGroup
	for c := 0; c < claimers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimJobs(ctx, "race", t0.Add(time.Second), time.Hour, 5)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					claimedBy[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimedBy) != jobs {
		t.Fatalf("%d of %d jobs claimed", len(claimedBy), jobs)
	}
	for id, n := range claimedBy {
		if n != 1 {
			t.Fatalf("job %s claimed %d times under one lease", id, n)
		}
	}
}

// testNotFound: every lookup or update of a missing object reports
// KindNotFound, which adapters turn into their protocol's 404.
func testNotFound(t *testing.T, s core.Store) {
	ctx := context.Background()
	call := func(_ any, err error) error { return err }
	tests := []struct {
		name string
		err  error
	}{
		{"GetOrganisation", call(s.GetOrganisation(ctx, "missing"))},
		{"GetPrincipal", call(s.GetPrincipal(ctx, "missing"))},
		{"FindPrincipal", call(s.FindPrincipal(ctx, "o", core.PrincipalUser, "missing"))},
		{"SetPrincipalDisabled", s.SetPrincipalDisabled(ctx, "missing", true)},
		{"GetCredential", call(s.GetCredential(ctx, "missing"))},
		{"FindCredential", call(s.FindCredential(ctx, core.CredAccessKey, "missing"))},
		{"RenameCredential", s.RenameCredential(ctx, "missing", "x")},
		{"RevokeCredential", s.RevokeCredential(ctx, "missing", t0)},
		{"GetToken", call(s.GetToken(ctx, "missing"))},
		{"GetTokenByHash", call(s.GetTokenByHash(ctx, []byte("missing")))},
		{"UpdateTokenExpiry", s.UpdateTokenExpiry(ctx, "missing", t0)},
		{"RevokeToken", s.RevokeToken(ctx, "missing", t0)},
		{"GetDocument", call(s.GetDocument(ctx, "c", "missing"))},
		{"UpdateDocument", call(s.UpdateDocument(ctx, core.Document{Collection: "c", ID: "missing", Version: 1, Data: json.RawMessage(`{}`)}))},
		{"DeleteDocument", s.DeleteDocument(ctx, "c", "missing")},
		{"GetJob", call(s.GetJob(ctx, "missing"))},
		{"CompleteJob", s.CompleteJob(ctx, "missing", t0)},
		{"RetryJob", s.RetryJob(ctx, "missing", t0, "x")},
		{"FailJob", s.FailJob(ctx, "missing", t0, "x")},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, core.ErrNotFound) {
			t.Errorf("%s: got %v, want not_found", tt.name, tt.err)
		}
	}
	// Bulk operations on nothing are not errors: they report zero.
	bulk := []struct {
		name string
		fn   func() (int, error)
	}{
		{"RevokeTokenFamily", func() (int, error) { return s.RevokeTokenFamily(ctx, "missing", t0) }},
		{"RevokePrincipalTokens", func() (int, error) { return s.RevokePrincipalTokens(ctx, "missing", t0) }},
		{"RevokeCredentialTokens", func() (int, error) { return s.RevokeCredentialTokens(ctx, "missing", t0) }},
		{"CountActiveTokens", func() (int, error) { return s.CountActiveTokens(ctx, "missing", core.TokenAccess, t0) }},
		{"PurgeTokens", func() (int, error) { return s.PurgeTokens(ctx, t0) }},
		{"PurgeReplayKeys", func() (int, error) { return s.PurgeReplayKeys(ctx, t0) }},
		{"PurgeCounters", func() (int, error) { return s.PurgeCounters(ctx, t0) }},
		{"PurgeAudit", func() (int, error) { return s.PurgeAudit(ctx, t0, 100) }},
		{"PurgeJobs", func() (int, error) { return s.PurgeJobs(ctx, core.JobDone, t0, 100) }},
	}
	for _, b := range bulk {
		if n, err := b.fn(); err != nil || n != 0 {
			t.Errorf("%s on an empty store = %d, %v; want 0, nil", b.name, n, err)
		}
	}
	if hashes, err := s.ListRevokedSince(ctx, t0); err != nil || len(hashes) != 0 {
		t.Errorf("ListRevokedSince on an empty store = %d, %v", len(hashes), err)
	}
}

// RunConcurrentCounters checks that concurrent increments are never lost.
func RunConcurrentCounters(t *testing.T, s core.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				if _, err := s.AddToCounter(ctx, "shared", t0.Add(time.Hour), 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := s.AddToCounter(ctx, "shared", t0.Add(time.Hour), 0)
	must(t, err)
	if v != 1000 {
		t.Fatalf("counter = %d after 1000 concurrent increments", v)
	}
}

// RunReadCache checks the read cache (core.ReadCacher) of cached, given
// other, a second handle on the same database standing for another node:
// reads are served from memory for at most the bound; a write through
// cached is seen at once; a write through other at the latest the bound
// later; a credential created on other is found at once (misses are never
// cached); a caller changing a returned credential does not change the cache.
func RunReadCache(t *testing.T, cached, other core.Store) {
	rc, ok := cached.(core.ReadCacher)
	if !ok {
		t.Fatal("backend has no read cache")
	}
	ctx := context.Background()
	clock := core.NewManualClock(t0)
	const bound = time.Second
	rc.CacheReads(bound, clock)
	must(t, other.CreateOrganisation(ctx, core.Organisation{ID: "rc-org", Name: "rc", CreatedAt: t0}))
	must(t, other.CreatePrincipal(ctx, core.Principal{ID: "rc-p", OrgID: "rc-org", Kind: core.PrincipalUser, Name: "rc", CreatedAt: t0}))
	cred := core.Credential{ID: "rc-c", PrincipalID: "rc-p", OrgID: "rc-org", Kind: core.CredAccessKey, Lookup: "rc-key", Name: "k", SecretHash: []byte{1, 2, 3}, CreatedAt: t0}
	// Misses are not cached: created elsewhere after a miss, found at once.
	wantErr(t, func() error { _, err := cached.FindCredential(ctx, core.CredAccessKey, "rc-key"); return err }(), core.ErrNotFound)
	must(t, other.CreateCredential(ctx, cred))
	byLookup, err := cached.FindCredential(ctx, core.CredAccessKey, "rc-key")
	must(t, err)
	byID, err := cached.GetCredential(ctx, "rc-c")
	must(t, err)
	p, err := cached.GetPrincipal(ctx, "rc-p")
	must(t, err)
	if byLookup.ID != "rc-c" || byID.Lookup != "rc-key" || p.Disabled {
		t.Fatalf("first reads: %+v %+v %+v", byLookup, byID, p)
	}
	byID.SecretHash[0] = 9 // a caller's change stays its own

	// Another node revokes and disables: within the bound this node still
	// has its reads; at the bound it reads again.
	must(t, other.RevokeCredential(ctx, "rc-c", t0))
	must(t, other.SetPrincipalDisabled(ctx, "rc-p", true))
	clock.Advance(bound - time.Millisecond)
	c1, err := cached.GetCredential(ctx, "rc-c")
	must(t, err)
	c2, err := cached.FindCredential(ctx, core.CredAccessKey, "rc-key")
	must(t, err)
	p1, err := cached.GetPrincipal(ctx, "rc-p")
	must(t, err)
	if c1.RevokedAt != nil || c2.RevokedAt != nil || p1.Disabled {
		t.Fatal("read cache did not serve within its bound (the test's premise)")
	}
	if c1.SecretHash[0] != 1 {
		t.Fatal("a caller's change to a returned credential reached the cache")
	}
	clock.Advance(time.Millisecond)
	c1, err = cached.GetCredential(ctx, "rc-c")
	must(t, err)
	c2, err = cached.FindCredential(ctx, core.CredAccessKey, "rc-key")
	must(t, err)
	p1, err = cached.GetPrincipal(ctx, "rc-p")
	must(t, err)
	if c1.RevokedAt == nil || c2.RevokedAt == nil || !p1.Disabled {
		t.Fatalf("a revocation by another node not seen at the bound: %v %v %v", c1.RevokedAt, c2.RevokedAt, p1.Disabled)
	}

	// A write through this node is seen here at once.
	must(t, other.SetPrincipalDisabled(ctx, "rc-p", false))
	clock.Advance(bound)
	if p1, err = cached.GetPrincipal(ctx, "rc-p"); err != nil || p1.Disabled {
		t.Fatalf("re-enabled principal: %+v %v", p1, err)
	}
	must(t, cached.SetPrincipalDisabled(ctx, "rc-p", true))
	if p1, err = cached.GetPrincipal(ctx, "rc-p"); err != nil || !p1.Disabled {
		t.Fatalf("own disable not seen at once: %+v %v", p1, err)
	}
	cred2 := cred
	cred2.ID, cred2.Lookup = "rc-c2", "rc-key2"
	must(t, cached.CreateCredential(ctx, cred2))
	if _, err := cached.FindCredential(ctx, core.CredAccessKey, "rc-key2"); err != nil {
		t.Fatal(err)
	}
	must(t, cached.RevokeCredential(ctx, "rc-c2", t0))
	if c, err := cached.FindCredential(ctx, core.CredAccessKey, "rc-key2"); err != nil || c.RevokedAt == nil {
		t.Fatalf("own revocation not seen at once: %+v %v", c, err)
	}

	// Off: every read goes to the store.
	rc.CacheReads(0, clock)
	must(t, other.SetPrincipalDisabled(ctx, "rc-p", false))
	if p1, err = cached.GetPrincipal(ctx, "rc-p"); err != nil || p1.Disabled {
		t.Fatalf("cache off: %+v %v", p1, err)
	}
}

// testGatewayRoutes: routes by unique name, listed by name with the set's
// version, which every create and delete raises (and nothing else does).
func testGatewayRoutes(t *testing.T, s core.Store) {
	ctx := context.Background()
	v0, err := s.GatewayRoutesVersion(ctx)
	must(t, err)
	list, lv, err := s.ListGatewayRoutes(ctx)
	must(t, err)
	if len(list) != 0 || lv != v0 {
		t.Fatalf("empty store lists %v at version %d (version %d)", list, lv, v0)
	}
	b := core.GatewayRoute{Name: "orders", Spec: []byte(`{"name":"orders"}`), CreatedAt: t0, CreatedBy: "admin-1"}
	a := core.GatewayRoute{Name: "accounts", Spec: []byte(`{"name":"accounts"}`), CreatedAt: t0.Add(time.Second), CreatedBy: "cli"}
	must(t, s.CreateGatewayRoute(ctx, b))
	must(t, s.CreateGatewayRoute(ctx, a))
	wantErr(t, s.CreateGatewayRoute(ctx, core.GatewayRoute{Name: "orders", Spec: []byte(`{}`), CreatedAt: t0}), core.ErrConflict)
	wantErr(t, s.CreateGatewayRoute(ctx, core.GatewayRoute{Name: "empty", CreatedAt: t0}), core.ErrInvalidInput)
	got, err := s.GetGatewayRoute(ctx, "orders")
	must(t, err)
	if got.Name != b.Name || string(got.Spec) != string(b.Spec) || !got.CreatedAt.Equal(b.CreatedAt) || got.CreatedBy != "admin-1" {
		t.Fatalf("got %+v, want %+v", got, b)
	}
	v2, err := s.GatewayRoutesVersion(ctx)
	must(t, err)
	if v2 != v0+2 {
		t.Fatalf("version %d after two creates from %d (a refused create must not raise it)", v2, v0)
	}
	list, lv, err = s.ListGatewayRoutes(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "accounts" || list[1].Name != "orders" || lv != v2 {
		t.Fatalf("list %v at version %d, want accounts, orders at %d", list, lv, v2)
	}
	must(t, s.DeleteGatewayRoute(ctx, "orders"))
	wantErr(t, s.DeleteGatewayRoute(ctx, "orders"), core.ErrNotFound)
	_, err = s.GetGatewayRoute(ctx, "orders")
	wantErr(t, err, core.ErrNotFound)
	if v3, err := s.GatewayRoutesVersion(ctx); err != nil || v3 != v2+1 {
		t.Fatalf("version %d after a delete and a refused delete from %d (%v)", v3, v2, err)
	}
}
