package taap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/admintest"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	"github.com/authgate/authgate/sdk/pop"
)

// lifecycleWorld is two organisations, each with a TAAP client and a SIM,
// and askers of every kind.
type lifecycleWorld struct {
	svc                 core.Services
	ops                 *taap.Admin
	a, b                taap.ClientInfo
	simA, simB          string
	admin, ownerA       core.Gate
	userA, ownerB, devA core.Gate
}

func newLifecycleWorld(t *testing.T, opt agtest.Options) *lifecycleWorld {
	t.Helper()
	svc, _ := agtest.NewServices(t, opt)
	ctx := context.Background()
	w := &lifecycleWorld{svc: svc, ops: taap.NewAdmin(svc), admin: core.Operator{}}
	var err error
	if w.a, err = taap.CreateClient(ctx, svc, taap.ClientSpec{Name: "client a", PublicKeys: [][]byte{pop.PublicKeyPEM(testKeys()[0])}, Scope: "iot-connectivity"}); err != nil {
		t.Fatal(err)
	}
	if w.b, err = taap.CreateClient(ctx, svc, taap.ClientSpec{Name: "client b", PublicKeys: [][]byte{pop.PublicKeyPEM(testKeys()[1])}}); err != nil {
		t.Fatal(err)
	}
	w.simA, w.simB = testICCID, func() string { d := "8901260123456789013"; return d + string(taap.LuhnDigit(d)) }()
	for _, s := range []struct{ org, iccid string }{{w.a.OrgID, w.simA}, {w.b.OrgID, w.simB}} {
		if _, err := w.ops.AddSIM(ctx, w.admin, s.org, taap.SIM{ICCID: s.iccid, Label: "kit"}); err != nil {
			t.Fatal(err)
		}
	}
	asker := func(org string, kind core.PrincipalKind) core.Gate {
		p, err := svc.CreatePrincipal(ctx, org, kind, string(kind)+" of "+org)
		if err != nil {
			t.Fatal(err)
		}
		return admintest.Gate{Act: core.Actor{Kind: kind, OrgID: org, PrincipalID: p.ID}, Svc: svc}
	}
	w.ownerA, w.userA, w.devA = asker(w.a.OrgID, core.PrincipalOwner), asker(w.a.OrgID, core.PrincipalUser), asker(w.a.OrgID, core.PrincipalDevice)
	w.ownerB = asker(w.b.OrgID, core.PrincipalOwner)
	return w
}

// forbiddenAudited reports whether a refusal of who was audited.
func forbiddenAudited(t *testing.T, svc core.Services, who core.Gate) bool {
	t.Helper()
	evs, err := svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, PrincipalID: who.Actor().PrincipalID})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs) > 0
}

// forBackends runs fn on SQLite and on PostgreSQL (pgtest: skipped
// without a server unless AUTHGATE_REQUIRE_POSTGRES=1).
func forBackends(t *testing.T, fn func(t *testing.T, backend func(testing.TB) agtest.Options)) {
	for name, b := range map[string]func(testing.TB) agtest.Options{
		"sqlite":   func(testing.TB) agtest.Options { return agtest.Options{} },
		"postgres": func(t testing.TB) agtest.Options { return agtest.Options{PostgresDSN: pgtest.DSN(t)} },
	} {
		t.Run(name, func(t *testing.T) { fn(t, b) })
	}
}

// success is the want of a case that must succeed (no error kind).
const success core.Kind = -1

// hidden is the want of an operation on an object the asker may not see:
// not found, as an unknown id, and the refusal audited.
const hidden core.Kind = -2

// TestLifecycleAuthorization: every operation asks the privilege table
// for the object's organisation; reads reach an owner's and a user's
// own organisation, changes only administrators; refusals are audited;
// unknown and malformed ids are not found, malformed ICCIDs invalid.
func TestLifecycleAuthorization(t *testing.T) {
	w := newLifecycleWorld(t, agtest.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		who  func() core.Gate
		op   func(who core.Gate) error
		want core.Kind // success, or the kind of the error
	}{
		{"admin gets a client", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, w.a.ClientID); return err }, success},
		{"owner gets its client", func() core.Gate { return w.ownerA }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, w.a.ClientID); return err }, success},
		{"user lists its keys", func() core.Gate { return w.userA }, func(k core.Gate) error {
			_, _, err := w.ops.ListKeys(ctx, k, w.a.ClientID, false, core.Page{})
			return err
		}, success},
		{"user gets its SIM", func() core.Gate { return w.userA }, func(k core.Gate) error { _, err := w.ops.GetSIM(ctx, k, w.simA); return err }, success},
		{"owner gets another organisation's client", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, w.a.ClientID); return err }, hidden},
		{"owner lists another organisation's clients", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, _, err := w.ops.ListClients(ctx, k, w.a.OrgID, core.Page{}); return err }, core.KindForbidden},
		{"owner lists another organisation's SIMs", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, _, err := w.ops.ListSIMs(ctx, k, w.a.OrgID, core.Page{}); return err }, core.KindForbidden},
		{"owner gets another organisation's SIM", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, err := w.ops.GetSIM(ctx, k, w.simA); return err }, hidden},
		{"owner gets another organisation's key", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, err := w.ops.GetKey(ctx, k, w.a.ClientID, w.a.Thumbprints[0]); return err }, hidden},
		{"owner deletes its client", func() core.Gate { return w.ownerA }, func(k core.Gate) error { _, err := w.ops.DeleteClient(ctx, k, w.a.ClientID); return err }, core.KindForbidden},
		{"owner revokes its key", func() core.Gate { return w.ownerA }, func(k core.Gate) error {
			_, err := w.ops.RevokeKey(ctx, k, w.a.ClientID, w.a.Thumbprints[0])
			return err
		}, core.KindForbidden},
		{"user deletes its SIM", func() core.Gate { return w.userA }, func(k core.Gate) error { _, err := w.ops.DeleteSIM(ctx, k, w.simA); return err }, core.KindForbidden},
		{"owner creates a client", func() core.Gate { return w.ownerA }, func(k core.Gate) error {
			_, err := w.ops.CreateClient(ctx, k, taap.ClientSpec{OrgID: w.a.OrgID, Name: "x", PublicKeys: [][]byte{pop.PublicKeyPEM(testKeys()[2])}})
			return err
		}, core.KindForbidden},
		{"owner adds a SIM", func() core.Gate { return w.ownerA }, func(k core.Gate) error {
			_, err := w.ops.AddSIM(ctx, k, w.a.OrgID, taap.SIM{ICCID: w.simB})
			return err
		}, core.KindForbidden},
		{"device reads its organisation's client", func() core.Gate { return w.devA }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, w.a.ClientID); return err }, core.KindForbidden},
		{"device lists clients", func() core.Gate { return w.devA }, func(k core.Gate) error { _, _, err := w.ops.ListClients(ctx, k, "", core.Page{}); return err }, core.KindForbidden},
		{"device asks for an unknown client", func() core.Gate { return w.devA }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, "nope"); return err }, core.KindForbidden},
		{"unknown client", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, "nope"); return err }, core.KindNotFound},
		{"huge client id", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.DeleteClient(ctx, k, strings.Repeat("a", 1<<16)); return err }, core.KindNotFound},
		{"client id with a newline", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetClient(ctx, k, w.a.ClientID+"\n"); return err }, core.KindNotFound},
		{"another client's key", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetKey(ctx, k, w.a.ClientID, w.b.Thumbprints[0]); return err }, core.KindNotFound},
		{"unknown key", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.RevokeKey(ctx, k, w.a.ClientID, "nope"); return err }, core.KindNotFound},
		{"unknown SIM", func() core.Gate { return w.admin }, func(k core.Gate) error {
			d := "8901260123456789014"
			_, err := w.ops.GetSIM(ctx, k, d+string(taap.LuhnDigit(d)))
			return err
		}, core.KindNotFound},
		{"ICCID with a wrong check digit", func() core.Gate { return w.admin }, func(k core.Gate) error {
			_, err := w.ops.DeleteSIM(ctx, k, w.simA[:len(w.simA)-1]+string('0'+(w.simA[len(w.simA)-1]-'0'+1)%10))
			return err
		}, core.KindInvalidInput},
		{"ICCID of letters", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetSIM(ctx, k, "89abcdefabcdefabcdef"); return err }, core.KindInvalidInput},
		{"huge ICCID", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetSIM(ctx, k, strings.Repeat("8", 1<<16)); return err }, core.KindInvalidInput},
		{"SIM for an unknown organisation", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.AddSIM(ctx, k, "nope", taap.SIM{ICCID: w.simB}); return err }, core.KindNotFound},
		{"SIM twice", func() core.Gate { return w.admin }, func(k core.Gate) error {
			_, err := w.ops.AddSIM(ctx, k, w.a.OrgID, taap.SIM{ICCID: w.simB})
			return err
		}, core.KindConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who := tc.who()
			err := tc.op(who)
			want, audited := tc.want, tc.want == core.KindForbidden
			if want == hidden {
				want, audited = core.KindNotFound, true
			}
			if got := core.KindOf(err); err != nil && got != want || err == nil && want != success {
				t.Fatalf("err = %v (kind %q), want kind %q", err, got, want)
			}
			if audited && !forbiddenAudited(t, w.svc, who) {
				t.Fatal("refusal not audited")
			}
		})
	}
}

// TestLifecycleListsOwnOrganisation: a non-admin's listing is its own
// organisation's whatever it leaves out; an administrator's is every
// organisation's or the one asked for.
func TestLifecycleListsOwnOrganisation(t *testing.T) {
	forBackends(t, func(t *testing.T, backend func(testing.TB) agtest.Options) {
		w := newLifecycleWorld(t, backend(t))
		ctx := context.Background()
		cs, total, err := w.ops.ListClients(ctx, w.userA, "", core.Page{Limit: 10})
		if err != nil || total != 1 || len(cs) != 1 || cs[0].ClientID != w.a.ClientID || cs[0].Name != "client a" || cs[0].Scope != "iot-connectivity" {
			t.Fatalf("user's clients: %+v %d %v", cs, total, err)
		}
		if cs, total, err = w.ops.ListClients(ctx, w.admin, "", core.Page{Limit: 10}); err != nil || total != 2 || len(cs) != 2 {
			t.Fatalf("admin's clients: %+v %d %v", cs, total, err)
		}
		if cs, total, err = w.ops.ListClients(ctx, w.admin, w.b.OrgID, core.Page{Limit: 10}); err != nil || total != 1 || cs[0].ClientID != w.b.ClientID {
			t.Fatalf("admin's clients of b: %+v %d %v", cs, total, err)
		}
		if cs, total, err = w.ops.ListClients(ctx, w.admin, "", core.Page{Offset: 1, Limit: 1}); err != nil || total != 2 || len(cs) != 1 || cs[0].ClientID != w.b.ClientID {
			t.Fatalf("second page: %+v %d %v", cs, total, err)
		}
		sims, total, err := w.ops.ListSIMs(ctx, w.ownerB, "", core.Page{Limit: 10})
		if err != nil || total != 1 || sims[0].ICCID != w.simB || sims[0].OrgID != w.b.OrgID || sims[0].Label != "kit" || sims[0].Status != "active" {
			t.Fatalf("owner's SIMs: %+v %d %v", sims, total, err)
		}
	})
}

// TestLifecycleKeys: a key is added, listed, shown and revoked; a key
// twice, or revoked twice, is a conflict; revoked keys are listed on
// request and still shown.
func TestLifecycleKeys(t *testing.T) {
	w := newLifecycleWorld(t, agtest.Options{})
	ctx := context.Background()
	k, err := w.ops.AddKey(ctx, w.admin, w.a.ClientID, pop.PublicKeyPEM(testKeys()[2]))
	if err != nil || k.KID == "" || k.ClientID != w.a.ClientID || !strings.HasPrefix(k.PublicKey, "-----BEGIN PUBLIC KEY-----") || k.RevokedAt != nil {
		t.Fatalf("add: %+v %v", k, err)
	}
	if _, err := w.ops.AddKey(ctx, w.admin, w.a.ClientID, pop.PublicKeyPEM(testKeys()[2])); core.KindOf(err) != core.KindConflict {
		t.Fatalf("same key again: %v", err)
	}
	if _, err := w.ops.AddKey(ctx, w.admin, w.a.ClientID, []byte("not a key")); core.KindOf(err) != core.KindInvalidInput {
		t.Fatalf("not a key: %v", err)
	}
	if _, err := w.ops.RevokeKey(ctx, w.admin, w.a.ClientID, k.KID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ops.RevokeKey(ctx, w.admin, w.a.ClientID, k.KID); core.KindOf(err) != core.KindConflict {
		t.Fatalf("revoke twice: %v", err)
	}
	if g, err := w.ops.GetKey(ctx, w.userA, w.a.ClientID, k.KID); err != nil || g.RevokedAt == nil {
		t.Fatalf("revoked key: %+v %v", g, err)
	}
	if ks, total, err := w.ops.ListKeys(ctx, w.admin, w.a.ClientID, false, core.Page{Limit: 10}); err != nil || total != 1 || ks[0].KID != w.a.Thumbprints[0] {
		t.Fatalf("active keys: %+v %d %v", ks, total, err)
	}
	if _, total, err := w.ops.ListKeys(ctx, w.admin, w.a.ClientID, true, core.Page{Limit: 10}); err != nil || total != 2 {
		t.Fatalf("all keys: %d %v", total, err)
	}
}

// TestLifecycleDeleteClient: deleting a client revokes its secret, its
// keys and its tokens and disables it; it is then not found (get, keys,
// delete) and no longer listed. Deleting a SIM removes it.
func TestLifecycleDeleteClient(t *testing.T) {
	forBackends(t, func(t *testing.T, backend func(testing.TB) agtest.Options) {
		w := newLifecycleWorld(t, backend(t))
		ctx := context.Background()
		_, tok, err := w.svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenTAAP, OrgID: w.a.OrgID, PrincipalID: w.a.PrincipalID, PrincipalKind: core.PrincipalApplication, TTL: 3600e9})
		if err != nil {
			t.Fatal(err)
		}
		d, err := w.ops.DeleteClient(ctx, w.admin, w.a.ClientID)
		if err != nil || !d.Deleted || d.KeysRevoked != 1 || d.TokensRevoked != 1 {
			t.Fatalf("delete: %+v %v", d, err)
		}
		if got, err := w.svc.Store.GetToken(ctx, tok.ID); err != nil || got.RevokedAt == nil {
			t.Fatalf("token after delete: %+v %v", got, err)
		}
		if p, err := w.svc.Store.GetPrincipal(ctx, w.a.PrincipalID); err != nil || !p.Disabled {
			t.Fatalf("principal after delete: %+v %v", p, err)
		}
		if _, err := w.svc.Credentials.VerifySecret(ctx, core.CredClientSecret, w.a.ClientID, w.a.ClientSecret); err == nil {
			t.Fatal("the secret still verifies")
		}
		if _, err := w.ops.GetClient(ctx, w.admin, w.a.ClientID); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("get after delete: %v", err)
		}
		if _, _, err := w.ops.ListKeys(ctx, w.admin, w.a.ClientID, true, core.Page{}); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("keys after delete: %v", err)
		}
		if _, err := w.ops.DeleteClient(ctx, w.admin, w.a.ClientID); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("delete twice: %v", err)
		}
		if _, total, err := w.ops.ListClients(ctx, w.admin, "", core.Page{Limit: 10}); err != nil || total != 1 {
			t.Fatalf("listed after delete: %d %v", total, err)
		}
		evs, err := w.svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditDelete, Protocol: "taap", PrincipalID: w.a.PrincipalID})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Reason, "deleted by the operator (command line); 1 keys and 1 tokens revoked") {
			t.Fatalf("audit: %+v %v", evs, err)
		}
		if s, err := w.ops.DeleteSIM(ctx, w.admin, w.simA); err != nil || !s.Deleted {
			t.Fatalf("delete SIM: %+v %v", s, err)
		}
		if _, err := w.ops.GetSIM(ctx, w.admin, w.simA); core.KindOf(err) != core.KindNotFound {
			t.Fatalf("SIM after delete: %v", err)
		}
	})
}
