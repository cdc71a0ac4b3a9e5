package tpv_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// TestClusterPostgres runs two authgate nodes on one PostgreSQL database:
// a token issued by one works on the other, a request signature spent on
// one is refused by the other, and a record made through one is visible
// through the other.
func TestClusterPostgres(t *testing.T) {
	dsn := pgtest.DSN(t) // its own database: the shared one may hold any branch's schema
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	node := func() *agtest.Env {
		return agtest.Start(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: t0}, func(svc core.Services) []httpapi.Module {
			return []httpapi.Module{tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(svc, httpapi.ClientAddr{}))}
		})
	}
	a, b := node(), node()
	ctx := context.Background()
	brand, err := tpv.CreateBrand(ctx, a.Svc, "", "Cluster Brand "+core.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	if err := tpv.AddProduct(ctx, a.Svc, brand.OrgID, "555", "Fixed"); err != nil {
		t.Fatal(err)
	}
	ca := &sdk.Client{BaseURL: a.URL, AppToken: brand.ApplicationToken, AppSecret: brand.AppSecret, Now: a.Clock.Now}
	tok, err := ca.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ca.Submit(ctx, json.RawMessage(exampleRecord(t)))
	if err != nil {
		t.Fatal(err)
	}

	fb := &fixture{env: b}
	s := signedRequest{method: "POST", path: "/api/v1/digital/send/" + code, ts: t0.Unix(), token: tok, secret: brand.AppSecret}
	if st, body := fb.do(t, fb.build(t, s)); st != 200 {
		t.Fatalf("node b, token and record from node a: %d %v", st, body)
	}
	fa := &fixture{env: a}
	st, body := fa.do(t, fa.build(t, s))
	if st != 401 || requireErrorShape(t, body) != "Signature has already been used" {
		t.Fatalf("node a, signature spent on node b: %d %v", st, body)
	}
}
