package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/store/sqlstore"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// TestReplayBatchedExactlyOnceAcrossNodes: two nodes' replay caches
// (database mode, concurrent inserts grouped into one statement per batch)
// on one PostgreSQL; every key is presented to both nodes at once by many
// concurrent callers, so batches of both nodes carry the same keys in
// different orders. Each key is accepted exactly once.
func TestReplayBatchedExactlyOnceAcrossNodes(t *testing.T) {
	dsn, master := pgtest.DSN(t), newMasterKey(t)
	var nodes []core.Services
	for range 2 {
		svc, _ := agtest.NewServices(t, agtest.Options{PostgresDSN: dsn, MasterKey: master})
		nodes = append(nodes, svc)
	}
	keys := scale(3000, 30000)
	const workers = 32 // per node
	expires := time.Now().Add(5 * time.Minute)
	accepted := make([]atomic.Int32, keys)
	var next [2]atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers)
	for n, svc := range nodes {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next[n].Add(1) - 1)
					if i >= keys {
						return
					}
					if n == 1 {
						i = keys - 1 - i // the other node walks the keys the other way
					}
					err := svc.Replay.Remember(context.Background(), "tpv-sig", fmt.Sprintf("sig-%d", i), expires)
					switch {
					case err == nil:
						accepted[i].Add(1)
					case core.KindOf(err) == core.KindReplayed:
					default:
						errc <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Fatalf("key %d accepted %d times across the two nodes", i, n)
		}
	}
}

// TestReplayFenceAfterPostgresCrash crashes a private PostgreSQL (immediate
// shutdown: crash recovery empties the UNLOGGED replay table) under two
// nodes. A TPV signature accepted before the crash is refused by both
// nodes afterwards although its key is gone from the table; a signature
// made after the lead is accepted exactly once.
func TestReplayFenceAfterPostgresCrash(t *testing.T) {
	pg := startPrivatePostgres(t)
	start := time.Now()
	o := nodeOptions{dsn: pg.dsn(), master: newMasterKey(t), clock: start}
	var nodes []*agtest.Env
	for range 2 {
		nodes = append(nodes, startNode(t, o))
	}
	c := newClient(nodes[0].URL, nodes[1].URL)
	brand, err := tpv.CreateBrand(context.Background(), nodes[0].Svc, "", "Fence Brand")
	if err != nil {
		t.Fatal(err)
	}
	login := c.do(0, "POST", sdktpv.LoginURL("", brand.ApplicationToken, brand.AppSecret, start), nil, "")
	if login.status != 200 {
		t.Fatalf("TPV login: %d %s", login.status, login.body)
	}
	authToken, _ := login.json(t)["auth_token"].(string)
	path, h := tpvSigned(t, brand.AppSecret, authToken, 1, start)
	if r := c.do(0, "GET", path, h, ""); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	if r := c.do(1, "GET", path, h, ""); r.status != 401 {
		t.Fatalf("replay before the crash: %d %s", r.status, r.body)
	}

	if err := pg.ctl("stop", "-m", "immediate"); err != nil {
		t.Fatal(err)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	db := nodes[0].Svc.Store.(*sqlstore.Store).DB()
	var n int
	for deadline := time.Now().Add(30 * time.Second); ; {
		err = db.QueryRow(`SELECT count(*) FROM replay_keys`).Scan(&n)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || n != 0 {
		t.Fatalf("premise: crash recovery left %d replay keys (%v)", n, err)
	}
	// The signature's key is gone; both nodes still refuse it (after the
	// pools have reconnected: 503 until then).
	for i := range nodes {
		r := c.do(i, "GET", path, h, "")
		for deadline := time.Now().Add(30 * time.Second); r.status == 503 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			r = c.do(i, "GET", path, h, "")
		}
		if r.status != 401 {
			t.Fatalf("node %d after the crash: a signature used before it answered %d %s", i, r.status, r.body)
		}
	}
	// A signature made after the lead expires past the fence: new, once.
	for _, nd := range nodes {
		nd.Clock.Advance(15 * time.Second)
	}
	path, h = tpvSigned(t, brand.AppSecret, authToken, 2, start.Add(15*time.Second))
	if r := c.do(1, "GET", path, h, ""); r.status != 200 {
		t.Fatalf("new signature after the crash: %d %s", r.status, r.body)
	}
	if r := c.do(0, "GET", path, h, ""); r.status != 401 {
		t.Fatalf("new signature accepted twice: %d %s", r.status, r.body)
	}
}
