package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// TestAttack_RevokedBrandAcrossNodesWithinReadCacheBound: two nodes with
// the read cache on (read_cache_max_age 1 s, as serve runs on PostgreSQL)
// have the brand's credential, principal and TPV auth token cached. The
// brand's application token is revoked through node 0: node 0 refuses its
// signed requests at once, node 1 at the latest one bound later.
func TestAttack_RevokedBrandAcrossNodesWithinReadCacheBound(t *testing.T) {
	const bound = time.Second
	start := time.Now()
	dsn, master := pgtest.DSN(t), newMasterKey(t)
	var nodes []*agtest.Env
	var urls []string
	for range 2 {
		n := agtest.Start(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: start, ReadCacheMaxAge: bound}, func(svc core.Services) []httpapi.Module {
			return []httpapi.Module{tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(svc, httpapi.ClientAddr{}))}
		})
		nodes = append(nodes, n)
		urls = append(urls, n.URL)
	}
	c := newClient(urls...)
	brand, err := tpv.CreateBrand(context.Background(), nodes[0].Svc, "", "Cached Brand")
	if err != nil {
		t.Fatal(err)
	}
	login := c.do(0, "POST", sdktpv.LoginURL("", brand.ApplicationToken, brand.AppSecret, start), nil, "")
	if login.status != 200 {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	authToken, _ := login.json(t)["auth_token"].(string)
	seq := 0
	send := func(i int) int {
		seq++
		path, h := tpvSigned(t, brand.AppSecret, authToken, seq, nodes[i].Clock.Now())
		r := c.do(i, "GET", path, h, "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.status
	}
	for i := range nodes { // both nodes have read and cached the brand
		if s := send(i); s != 200 {
			t.Fatalf("node %d before the revocation: %d", i, s)
		}
	}
	cred, err := nodes[0].Svc.Store.FindCredential(context.Background(), core.CredAppToken, brand.ApplicationToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Svc.RevokeCredential(context.Background(), cred, core.Revocation{Protocol: "tpv", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if s := send(0); s != 401 {
		t.Fatalf("node 0 answered %d right after revoking through it, want 401", s)
	}
	// Within the bound node 1 still answers from its caches: the
	// documented trade-off, and the proof that the caches are in use.
	nodes[1].Clock.Advance(bound - time.Millisecond)
	if s := send(1); s != 200 {
		t.Fatalf("node 1 answered %d within the bound: the caches were not in use (premise)", s)
	}
	nodes[1].Clock.Advance(time.Millisecond)
	if s := send(1); s != 401 {
		t.Fatalf("node 1 answered %d one read_cache_max_age after the revocation, want 401", s)
	}
}
