package tpv_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/admintest"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// brandWorld is two organisations with a brand each (a with product
// "555"), and askers of every kind.
type brandWorld struct {
	svc                  core.Services
	ops                  *tpv.Admin
	a, b                 tpv.BrandCredentials
	admin, ownerA, userA core.Gate
	ownerB, appA         core.Gate
}

func newBrandWorld(t *testing.T, opt agtest.Options) *brandWorld {
	t.Helper()
	svc, _ := agtest.NewServices(t, opt)
	ctx := context.Background()
	w := &brandWorld{svc: svc, ops: tpv.NewAdmin(svc), admin: core.Operator{}}
	var err error
	if w.a, err = w.ops.CreateBrand(ctx, w.admin, "", "Brand A"); err != nil {
		t.Fatal(err)
	}
	if w.b, err = w.ops.CreateBrand(ctx, w.admin, "", "Brand B"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ops.AddProduct(ctx, w.admin, w.a.BrandID, "555", "Fixed 12 months"); err != nil {
		t.Fatal(err)
	}
	asker := func(org string, kind core.PrincipalKind) core.Gate {
		p, err := svc.CreatePrincipal(ctx, org, kind, string(kind)+" of "+org)
		if err != nil {
			t.Fatal(err)
		}
		return admintest.Gate{Act: core.Actor{Kind: kind, OrgID: org, PrincipalID: p.ID}, Svc: svc}
	}
	w.ownerA, w.userA, w.ownerB = asker(w.a.OrgID, core.PrincipalOwner), asker(w.a.OrgID, core.PrincipalUser), asker(w.b.OrgID, core.PrincipalOwner)
	w.appA = admintest.Gate{Act: core.Actor{Kind: core.PrincipalApplication, OrgID: w.a.OrgID, PrincipalID: w.a.BrandID}, Svc: svc}
	return w
}

// success is the want of a case that must succeed (no error kind).
const success core.Kind = -1

// hidden is the want of an operation on an object the asker may not see:
// not found, as an unknown id, and the refusal audited.
const hidden core.Kind = -2

// TestBrandLifecycleAuthorization: every operation asks the privilege
// table for the brand's organisation; reads reach an owner's and a
// user's own organisation, changes only administrators, the brand itself
// nothing; refusals are audited; unknown and malformed ids are not found,
// malformed program codes invalid.
func TestBrandLifecycleAuthorization(t *testing.T) {
	w := newBrandWorld(t, agtest.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		who  func() core.Gate
		op   func(who core.Gate) error
		want core.Kind
	}{
		{"admin gets a brand", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetBrand(ctx, k, w.a.BrandID); return err }, success},
		{"owner gets its brand", func() core.Gate { return w.ownerA }, func(k core.Gate) error { _, err := w.ops.GetBrand(ctx, k, w.a.BrandID); return err }, success},
		{"user lists its products", func() core.Gate { return w.userA }, func(k core.Gate) error {
			_, _, err := w.ops.ListProducts(ctx, k, w.a.BrandID, core.Page{})
			return err
		}, success},
		{"user gets its product", func() core.Gate { return w.userA }, func(k core.Gate) error { _, err := w.ops.GetProduct(ctx, k, w.a.BrandID, "555"); return err }, success},
		{"owner gets another organisation's brand", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, err := w.ops.GetBrand(ctx, k, w.a.BrandID); return err }, hidden},
		{"owner lists another organisation's brands", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, _, err := w.ops.ListBrands(ctx, k, w.a.OrgID, core.Page{}); return err }, core.KindForbidden},
		{"owner lists another organisation's products", func() core.Gate { return w.ownerB }, func(k core.Gate) error {
			_, _, err := w.ops.ListProducts(ctx, k, w.a.BrandID, core.Page{})
			return err
		}, hidden},
		{"owner deletes another organisation's product", func() core.Gate { return w.ownerB }, func(k core.Gate) error { _, err := w.ops.DeleteProduct(ctx, k, w.a.BrandID, "555"); return err }, core.KindForbidden},
		{"owner deletes its brand", func() core.Gate { return w.ownerA }, func(k core.Gate) error { _, err := w.ops.DeleteBrand(ctx, k, w.a.BrandID); return err }, core.KindForbidden},
		{"owner creates a brand", func() core.Gate { return w.ownerA }, func(k core.Gate) error { _, err := w.ops.CreateBrand(ctx, k, w.a.OrgID, "Mine"); return err }, core.KindForbidden},
		{"user deletes its product", func() core.Gate { return w.userA }, func(k core.Gate) error { _, err := w.ops.DeleteProduct(ctx, k, w.a.BrandID, "555"); return err }, core.KindForbidden},
		{"user adds a product", func() core.Gate { return w.userA }, func(k core.Gate) error { _, err := w.ops.AddProduct(ctx, k, w.a.BrandID, "556", "x"); return err }, core.KindForbidden},
		{"the brand reads itself", func() core.Gate { return w.appA }, func(k core.Gate) error { _, err := w.ops.GetBrand(ctx, k, w.a.BrandID); return err }, core.KindForbidden},
		{"the brand lists brands", func() core.Gate { return w.appA }, func(k core.Gate) error { _, _, err := w.ops.ListBrands(ctx, k, "", core.Page{}); return err }, core.KindForbidden},
		{"unknown brand", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetBrand(ctx, k, "nope"); return err }, core.KindNotFound},
		{"huge brand id", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.DeleteBrand(ctx, k, strings.Repeat("b", 1<<16)); return err }, core.KindNotFound},
		{"a principal that is no brand", func() core.Gate { return w.admin }, func(k core.Gate) error {
			_, err := w.ops.GetBrand(ctx, k, w.ownerA.Actor().PrincipalID)
			return err
		}, core.KindNotFound},
		{"unknown product", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetProduct(ctx, k, w.a.BrandID, "556"); return err }, core.KindNotFound},
		{"another organisation's product code", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.DeleteProduct(ctx, k, w.b.BrandID, "555"); return err }, core.KindNotFound},
		{"malformed program code", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.GetProduct(ctx, k, w.a.BrandID, "55 5"); return err }, core.KindInvalidInput},
		{"huge program code", func() core.Gate { return w.admin }, func(k core.Gate) error {
			_, err := w.ops.DeleteProduct(ctx, k, w.a.BrandID, strings.Repeat("5", 33))
			return err
		}, core.KindInvalidInput},
		{"program code twice", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.AddProduct(ctx, k, w.a.BrandID, "555", "again"); return err }, core.KindConflict},
		{"product without a name", func() core.Gate { return w.admin }, func(k core.Gate) error { _, err := w.ops.AddProduct(ctx, k, w.a.BrandID, "557", ""); return err }, core.KindInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who := tc.who()
			err := tc.op(who)
			want, audited := tc.want, tc.want == core.KindForbidden
			if want == hidden {
				want, audited = core.KindNotFound, true
			}
			if got := core.KindOf(err); err != nil && got != want || err == nil && want != success {
				t.Fatalf("err = %v (kind %v), want kind %v", err, got, want)
			}
			if audited {
				evs, err := w.svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditForbidden, PrincipalID: who.Actor().PrincipalID})
				if err != nil || len(evs) == 0 {
					t.Fatalf("refusal not audited: %v", err)
				}
			}
		})
	}
}

// TestBrandLifecycle: a non-admin lists its own organisation's brands;
// deleting a brand revokes its application token and auth tokens and
// disables it, after which it is not found; deleting a product removes it.
func TestBrandLifecycle(t *testing.T) {
	for name, backend := range map[string]func(testing.TB) agtest.Options{
		"sqlite":   func(testing.TB) agtest.Options { return agtest.Options{} },
		"postgres": func(t testing.TB) agtest.Options { return agtest.Options{PostgresDSN: pgtest.DSN(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			w := newBrandWorld(t, opt)
			ctx := context.Background()
			bs, total, err := w.ops.ListBrands(ctx, w.userA, "", core.Page{Limit: 10})
			if err != nil || total != 1 || bs[0].BrandID != w.a.BrandID || bs[0].Name != "Brand A" || bs[0].ApplicationToken != w.a.ApplicationToken {
				t.Fatalf("user's brands: %+v %d %v", bs, total, err)
			}
			if _, total, err = w.ops.ListBrands(ctx, w.admin, "", core.Page{Limit: 10}); err != nil || total != 2 {
				t.Fatalf("admin's brands: %d %v", total, err)
			}
			ps, total, err := w.ops.ListProducts(ctx, w.ownerA, w.a.BrandID, core.Page{Limit: 10})
			if err != nil || total != 1 || ps[0].ProgramCode != "555" || ps[0].Name != "Fixed 12 months" || ps[0].OrgID != w.a.OrgID {
				t.Fatalf("products: %+v %d %v", ps, total, err)
			}
			_, tok, err := w.svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenTPVAuth, OrgID: w.a.OrgID, PrincipalID: w.a.BrandID, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			d, err := w.ops.DeleteBrand(ctx, w.admin, w.a.BrandID)
			if err != nil || !d.Deleted || d.TokensRevoked != 1 {
				t.Fatalf("delete: %+v %v", d, err)
			}
			if got, err := w.svc.Store.GetToken(ctx, tok.ID); err != nil || got.RevokedAt == nil {
				t.Fatalf("auth token after delete: %+v %v", got, err)
			}
			if _, err := w.svc.Credentials.Find(ctx, core.CredAppToken, w.a.ApplicationToken); core.KindOf(err) != core.KindRevoked {
				t.Fatalf("application token after delete: %v", err)
			}
			if _, err := w.ops.GetBrand(ctx, w.admin, w.a.BrandID); core.KindOf(err) != core.KindNotFound {
				t.Fatalf("get after delete: %v", err)
			}
			if _, err := w.ops.DeleteBrand(ctx, w.admin, w.a.BrandID); core.KindOf(err) != core.KindNotFound {
				t.Fatalf("delete twice: %v", err)
			}
			if _, total, err = w.ops.ListBrands(ctx, w.admin, "", core.Page{Limit: 10}); err != nil || total != 1 {
				t.Fatalf("listed after delete: %d %v", total, err)
			}
			if _, err := w.ops.AddProduct(ctx, w.admin, w.b.BrandID, "B-1", "Variable"); err != nil {
				t.Fatal(err)
			}
			if pd, err := w.ops.DeleteProduct(ctx, w.admin, w.b.BrandID, "B-1"); err != nil || !pd.Deleted {
				t.Fatalf("delete product: %+v %v", pd, err)
			}
			if _, err := w.ops.GetProduct(ctx, w.admin, w.b.BrandID, "B-1"); core.KindOf(err) != core.KindNotFound {
				t.Fatalf("product after delete: %v", err)
			}
		})
	}
}
