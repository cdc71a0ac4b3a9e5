package taap_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestReplayAcrossNodesPostgres runs two authgate nodes on one PostgreSQL
// database with one master key. The same PoP-signed request is sent to
// both at once, many times over: each token is accepted exactly once.
// A token from node A's token endpoint works on node B, and both nodes
// publish the same JWKS.
func TestReplayAcrossNodesPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	a := newFixture(t, fixtureOpts{Options: agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: now}})
	b := agtest.Start(t, agtest.Options{PostgresDSN: dsn, MasterKey: master, ManualClock: now}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	tr := a.accessToken(t)
	verifyIDToken(t, &fixture{env: b, client: a.client}, tr.IDToken)

	ctx := context.Background()
	const rounds = 20
	for i := 0; i < rounds; i++ {
		req, err := a.sdk.NewRequest(ctx, "GET", "/iot-connectivity/v1/devices/"+testICCID, nil, tr.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		status := make([]int, 2)
		for n, base := range []string{a.env.URL, b.URL} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := req.Clone(ctx)
				r.URL, _ = r.URL.Parse(base + r.URL.Path)
				r.Host = ""
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				status[n] = resp.StatusCode
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range status {
			if s == 200 {
				ok++
			} else if s != 401 {
				t.Fatalf("round %d: status %v", i, status)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: one PoP token sent to two nodes accepted %d times (statuses %v)", i, ok, status)
		}
	}
}
