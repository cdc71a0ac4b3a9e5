package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// statusCount counts answers by status, and transport errors by node.
type statusCount struct {
	mu       sync.Mutex
	byStatus map[int]int
	errs     []string
}

func (s *statusCount) add(r reply, node int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byStatus == nil {
		s.byStatus = map[int]int{}
	}
	if r.err != nil {
		if len(s.errs) < 5 {
			s.errs = append(s.errs, fmt.Sprintf("node %d: %v", node, r.err))
		}
		s.byStatus[-1]++
		return
	}
	s.byStatus[r.status]++
}

func (s *statusCount) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%v %v", s.byStatus, s.errs)
}

// TestKillNodeUnderLoad runs three real server processes on one
// PostgreSQL, issues tokens through all of them, and kills one with
// SIGKILL in the middle. The other two keep serving; every token a client
// got back (from any node, the killed one included) is afterwards active
// on a surviving node, and its issue is in the audit log.
func TestKillNodeUnderLoad(t *testing.T) {
	dsn, master := pgtest.DSN(t), newMasterKey(t)
	first := startChild(t, dsn, master)
	key, secret := first.bootstrapAdmin(t)
	nodes := []*child{first, startChild(t, dsn, master), startChild(t, dsn, master)}
	c := newClient(nodes[0].url, nodes[1].url, nodes[2].url)

	var (
		mu        sync.Mutex
		acked     []string    // access tokens the client received
		killing   atomic.Bool // node 0's transport errors are expected from here on
		dead      atomic.Bool // node 0 is gone: what succeeds now came from the survivors
		afterKill [3]atomic.Int32
		bad       statusCount
	)
	ctx, stop := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := c.pick()
				r := c.do(n, "POST", "/oauth/token", formHeader, passwordForm(key, secret))
				if r.err == nil && r.status == 200 {
					tok, _ := jsonMap(r.body)["access_token"].(string)
					mu.Lock()
					acked = append(acked, tok)
					mu.Unlock()
					if dead.Load() {
						afterKill[n].Add(1)
					}
					continue
				}
				if n == 0 && killing.Load() {
					continue // the killed node: connection refused or reset, nothing acknowledged
				}
				bad.add(r, n)
			}
		}()
	}
	time.Sleep(time.Duration(scale(1500, 10000)) * time.Millisecond)
	killing.Store(true)
	nodes[0].kill(t)
	dead.Store(true)
	mu.Lock()
	atKill := len(acked)
	mu.Unlock()
	time.Sleep(time.Duration(scale(1000, 10000)) * time.Millisecond)
	stop()
	wg.Wait()
	if bad.byStatus != nil {
		t.Fatalf("failures on live nodes: %s", bad.String())
	}
	if afterKill[1].Load() == 0 || afterKill[2].Load() == 0 || afterKill[0].Load() != 0 {
		t.Fatalf("tokens issued after the kill per node: %d %d %d", afterKill[0].Load(), afterKill[1].Load(), afterKill[2].Load())
	}
	t.Logf("%d tokens acknowledged (%d before the kill, %d+%d after it by the survivors)", len(acked), atKill, afterKill[1].Load(), afterKill[2].Load())

	// Every acknowledged token is active on a survivor ...
	jtis := make([]string, len(acked))
	var ierr atomic.Value
	var iw sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, tok := range acked {
		iw.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; iw.Done() }()
			n := 1 + i%2
			r := c.do(n, "POST", "/oauth/introspect", basicHeader(key, secret), "token="+url.QueryEscape(tok))
			m := jsonMap(r.body)
			if r.status != 200 || m["active"] != true {
				ierr.CompareAndSwap(nil, fmt.Sprintf("acknowledged token %d not active on node %d: %d %s", i, n, r.status, r.body))
				return
			}
			jtis[i], _ = m["jti"].(string)
		}()
	}
	iw.Wait()
	if e := ierr.Load(); e != nil {
		t.Fatal(e)
	}
	// ... and its issue is in the audit log (read straight from the table:
	// the listing API pages at 10,000 events).
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT subject FROM audit_log WHERE action=$1 AND protocol='oauth2'", core.AuditIssue)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for rows.Next() {
		var subject string
		if err := rows.Scan(&subject); err != nil {
			t.Fatal(err)
		}
		audited[subject] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for i, jti := range jtis {
		if jti == "" || !audited[jti] {
			t.Fatalf("acknowledged token %d (jti %q) has no issue audit entry", i, jti)
		}
	}
}

// TestPostgresRestartUnderLoad stops PostgreSQL while two real server
// processes are under load, and starts it again. During the outage every
// request that needs the database is answered 503 with Retry-After (never
// 500, never a dropped connection, no panic); afterwards both nodes serve
// again by themselves, without being restarted.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	master := newMasterKey(t)
	first := startChild(t, pg.dsn(), master)
	key, secret := first.bootstrapAdmin(t)
	nodes := []*child{first, startChild(t, pg.dsn(), master)}
	c := newClient(nodes[0].url, nodes[1].url)
	tok := c.passwordGrant(t, 0, key, secret)

	var (
		counts                 statusCount
		outage                 atomic.Bool
		during503, withoutWait atomic.Int32
	)
	ctx, stop := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				n := c.pick()
				var r reply
				if i%2 == 0 {
					r = c.do(n, "POST", "/oauth/token", formHeader, passwordForm(key, secret))
				} else {
					r = c.do(n, "GET", "/accesskeys", bearerHeader(tok), "") // bearer check plus a database read
				}
				counts.add(r, n)
				if r.err == nil && r.status == 503 {
					if outage.Load() {
						during503.Add(1)
					}
					if r.header.Get("Retry-After") == "" || jsonMap(r.body)["error"] != "temporarily_unavailable" {
						withoutWait.Add(1)
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	outage.Store(true)
	time.Sleep(time.Duration(scale(2000, 15000)) * time.Millisecond)
	outage.Store(false)
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for n := range nodes {
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d serving again", n), func() bool {
			return c.do(n, "POST", "/oauth/token", formHeader, passwordForm(key, secret)).status == 200 &&
				c.do(n, "GET", "/accesskeys", bearerHeader(tok), "").status == 200
		})
		t.Logf("node %d serves again %v after PostgreSQL was back", n, time.Since(restarted).Round(time.Millisecond))
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("answers by status: %s", counts.String())
	for status, n := range counts.byStatus {
		if status != 200 && status != 503 {
			t.Errorf("%d answers with status %d (-1: transport error): want only 200 and 503", n, status)
		}
	}
	if during503.Load() == 0 {
		t.Error("no 503 during the outage: the outage did not reach the nodes")
	}
	if withoutWait.Load() != 0 {
		t.Errorf("%d 503 answers without Retry-After or the RFC 6749 temporarily_unavailable error", withoutWait.Load())
	}
	for i, n := range nodes {
		if strings.Contains(n.stderr.String(), "panic") {
			t.Errorf("node %d logged a panic:\n%s", i, n.stderr.String())
		}
		select {
		case err := <-n.done:
			t.Errorf("node %d exited: %v", i, err)
		default:
		}
	}
}

// sqliteNode is one in-process node on SQLite and the store's write pool
// (one connection), on which the test sets pragmas.
func sqliteNode(t *testing.T) (*agtest.Env, *client, *sql.DB) {
	t.Helper()
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{m, okRoute{m.Bearer()}}
	})
	db := e.Svc.Store.(interface{ DB() *sql.DB }).DB()
	return e, newClient(e.URL), db
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}

// TestSQLiteFullAndReadOnly makes the SQLite file unwritable while a node
// serves: full (max_page_count pinned at the current size, as when the
// disk is full) and read-only (query_only). Issuing answers 503 with the
// RFC 6749 temporarily_unavailable error instead of 500; bearer checks,
// which only read, keep working; writes work again once space is back;
// and integrity_check passes throughout.
func TestSQLiteFullAndReadOnly(t *testing.T) {
	cases := []struct {
		name         string
		break_, heal string
	}{
		{"full", "PRAGMA max_page_count = %d", "PRAGMA max_page_count = 1073741823"},
		{"read-only", "PRAGMA query_only = 1", "PRAGMA query_only = 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, c, db := sqliteNode(t)
			key, secret := e.Admin.Key, e.Admin.Secret
			tok := c.passwordGrant(t, 0, key, secret)
			var pages int
			if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
				t.Fatal(err)
			}
			stmt := tc.break_
			if strings.Contains(stmt, "%d") {
				stmt = fmt.Sprintf(stmt, pages)
			}
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
			// Fill what free space is left, then every write must fail cleanly.
			var statuses []int
			got503 := false
			for i := 0; i < 5000 && !got503; i++ {
				r := c.do(0, "POST", "/oauth/token", formHeader, passwordForm(key, secret))
				if r.err != nil {
					t.Fatal(r.err)
				}
				statuses = append(statuses, r.status)
				switch {
				case r.status == 503:
					if jsonMap(r.body)["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
						t.Fatalf("503 without the RFC 6749 error or Retry-After: %s %v", r.body, r.header)
					}
					got503 = true
				case r.status != 200:
					t.Fatalf("grant on a %s database: %d %s", tc.name, r.status, r.body)
				}
			}
			if !got503 {
				t.Fatalf("writes never failed on a %s database: %v", tc.name, slices.Compact(statuses))
			}
			for i := 0; i < 20; i++ {
				if r := c.do(0, "POST", "/oauth/token", formHeader, passwordForm(key, secret)); r.status != 503 {
					t.Fatalf("grant %d after the first refusal: %d %s", i, r.status, r.body)
				}
			}
			if r := c.do(0, "GET", "/cluster/whoami", bearerHeader(tok), ""); r.status != 200 {
				t.Fatalf("bearer check (a read) on a %s database: %d %s", tc.name, r.status, r.body)
			}
			integrityOK(t, db)
			if _, err := db.Exec(tc.heal); err != nil {
				t.Fatal(err)
			}
			c.passwordGrant(t, 0, key, secret)
			integrityOK(t, db)
		})
	}
}

// TestOverloadSheds sends bursts far above max_in_flight to a real server
// process: every request is answered, either served (200) or refused at
// once with 503, Retry-After and a JSON error, never left hanging or
// dropped, and the server serves normally right after the burst.
func TestOverloadSheds(t *testing.T) {
	const maxInFlight, burst = 4, 256
	srv := startChild(t, "sqlite:"+t.TempDir()+"/authgate.db", newMasterKey(t), fmt.Sprintf("AUTHGATE_MAX_IN_FLIGHT=%d", maxInFlight))
	key, secret := srv.bootstrapAdmin(t)
	c := newClient(srv.url)
	c.http.Transport.(*http.Transport).MaxIdleConnsPerHost = burst
	var ok, shed atomic.Int32
	var worst atomic.Int64
	for round := 0; round < scale(3, 20) && (shed.Load() == 0 || long()); round++ {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < burst; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				r := c.do(0, "POST", "/oauth/token", formHeader, passwordForm(key, secret))
				d := int64(time.Since(t0))
				for cur := worst.Load(); d > cur && !worst.CompareAndSwap(cur, d); cur = worst.Load() {
				}
				switch {
				case r.err != nil:
					t.Errorf("request dropped under overload: %v", r.err)
				case r.status == 200:
					ok.Add(1)
				case r.status == 503 && r.header.Get("Retry-After") != "" && jsonMap(r.body)["error"] != nil:
					shed.Add(1)
				default:
					t.Errorf("under overload: %d %v %s", r.status, r.header, r.body)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	t.Logf("bursts of %d concurrent grants, max_in_flight %d: %d served, %d shed with 503 + Retry-After, slowest answer %v",
		burst, maxInFlight, ok.Load(), shed.Load(), time.Duration(worst.Load()).Round(time.Millisecond))
	if shed.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("want both served and shed requests, got %d and %d", ok.Load(), shed.Load())
	}
	if time.Duration(worst.Load()) > 10*time.Second {
		t.Fatalf("slowest answer took %v: requests queued instead of being shed", time.Duration(worst.Load()))
	}
	c.passwordGrant(t, 0, key, secret)
}
