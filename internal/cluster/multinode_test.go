package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// threeNodes starts three in-process nodes on one fresh PostgreSQL
// database with one master key.
func threeNodes(t *testing.T, o nodeOptions) ([]*agtest.Env, *client) {
	t.Helper()
	return pgNodes(t, 3, o)
}

// pgNodes starts n in-process nodes on one fresh PostgreSQL database with
// one master key. The first node's address stands for the load balancer's
// name: the others believe it as a Host header (allowed_hosts), as every
// node behind one public name must.
func pgNodes(t *testing.T, n int, o nodeOptions) ([]*agtest.Env, *client) {
	t.Helper()
	o.dsn, o.master = pgtest.DSN(t), newMasterKey(t)
	var nodes []*agtest.Env
	var urls []string
	for range n {
		n := startNode(t, o)
		nodes = append(nodes, n)
		urls = append(urls, n.URL)
		o.allowedHosts = []string{strings.TrimPrefix(urls[0], "http://")}
	}
	return nodes, newClient(urls...)
}

// tpvSigned builds a signed TPV request for GET /api/v1/test/api?n=seq.
func tpvSigned(t testing.TB, secret, authToken string, seq int, now time.Time) (string, http.Header) {
	t.Helper()
	path := "/api/v1/test/api?n=" + strconv.Itoa(seq)
	u, _ := url.Parse(path)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := sdktpv.RequestSignature(secret, "GET", u, ts, nil, authToken)
	if err != nil {
		t.Fatal(err)
	}
	return path, http.Header{"Authorization": {authToken}, sdktpv.HeaderTimestamp: {ts}, sdktpv.HeaderSignature: {sig}}
}

// TestClusterMixedLoad sends thousands of mixed requests through a
// round-robin client to three nodes on one PostgreSQL: password grants,
// bearer calls with tokens issued by any node, and TPV signed requests of
// which every signature is sent to all three nodes at once. Every token
// works on every node; every signature is accepted exactly once
// cluster-wide (the others are refused as replays); and a token revoked on
// one node is refused by all nodes within the documented bound
// (oauth2.token_cache_max_age, default 1 s).
func TestClusterMixedLoad(t *testing.T) {
	nodes, c := threeNodes(t, nodeOptions{})
	ctx := context.Background()
	admKey, admSecret := nodes[0].Admin.Key, nodes[0].Admin.Secret
	brand, err := tpv.CreateBrand(ctx, nodes[0].Svc, "", "Cluster Brand")
	if err != nil {
		t.Fatal(err)
	}
	login := c.do(1, "POST", sdktpv.LoginURL("", brand.ApplicationToken, brand.AppSecret, time.Now()), nil, "")
	if login.status != 200 {
		t.Fatalf("TPV login on node 1: %d %s", login.status, login.body)
	}
	authToken, _ := login.json(t)["auth_token"].(string)
	pop := newPoPClient(t, nodes[0], c)
	aps := newApstrataClient(t, nodes[0], c)

	var (
		mu       sync.Mutex
		tokens   = []string{c.passwordGrant(t, 2, admKey, admSecret)}
		requests atomic.Int64
		grants   atomic.Int64
		bearers  atomic.Int64
		sigs     atomic.Int64
		jtis     atomic.Int64
		apsSigs  atomic.Int64
		failures = make(chan string, 16)
	)
	fail := func(format string, a ...any) {
		select {
		case failures <- fmt.Sprintf(format, a...):
		default:
		}
	}
	total := scale(1500, 30000)
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(seq.Add(1))
				if i > total {
					return
				}
				switch i % 4 {
				case 0: // password grant on the next node
					r := c.do(c.pick(), "POST", "/oauth/token", formHeader, passwordForm(admKey, admSecret))
					requests.Add(1)
					if r.err != nil || r.status != 200 {
						fail("password grant: %v %d %s", r.err, r.status, r.body)
						continue
					}
					var tok string
					if m := jsonMap(r.body); m != nil {
						tok, _ = m["access_token"].(string)
					}
					mu.Lock()
					tokens = append(tokens, tok)
					mu.Unlock()
					grants.Add(1)
				case 3: // a PoP token (its jti) or an Apstrata signature, sent to all three nodes at once
					build, accepted, replayed := aps.request, aps.accepted, aps.replayed
					if i%8 == 3 {
						build, accepted, replayed = pop.request, pop.accepted, pop.replayed
					}
					req, err := build()
					if err != nil {
						fail("build: %v", err)
						continue
					}
					ok, refused := 0, 0
					for n, r := range sendToAll(c, req) {
						switch {
						case r.err == nil && accepted(r):
							ok++
						case r.err == nil && replayed(r):
							refused++
						default:
							fail("%s on node %d: %v %d %s", req.URL.Path, n, r.err, r.status, r.body)
						}
					}
					requests.Add(int64(len(c.urls)))
					if ok != 1 || refused != len(c.urls)-1 {
						fail("request %d (%s) accepted %d times, refused as a replay %d times", i, req.URL.Path, ok, refused)
						continue
					}
					if i%8 == 3 {
						jtis.Add(1)
					} else {
						apsSigs.Add(1)
					}
				case 1: // bearer call with a token that any node may have issued
					mu.Lock()
					tok := tokens[rand.IntN(len(tokens))]
					mu.Unlock()
					r := c.do(c.pick(), "GET", "/cluster/whoami", bearerHeader(tok), "")
					requests.Add(1)
					if r.err != nil || r.status != 200 {
						fail("bearer: %v %d %s", r.err, r.status, r.body)
						continue
					}
					bearers.Add(1)
				case 2: // one TPV signature, sent to all three nodes at once
					path, h := tpvSigned(t, brand.AppSecret, authToken, i, time.Now())
					var ok, replayed atomic.Int32
					var sw sync.WaitGroup
					for n := range c.urls {
						sw.Add(1)
						go func() {
							defer sw.Done()
							r := c.do(n, "GET", path, h, "")
							switch {
							case r.err == nil && r.status == 200:
								ok.Add(1)
							case r.err == nil && r.status == 401 && jsonMap(r.body)["error"] == "Signature has already been used":
								replayed.Add(1)
							default:
								fail("TPV signature on node %d: %v %d %s", n, r.err, r.status, r.body)
							}
						}()
					}
					sw.Wait()
					requests.Add(int64(len(c.urls)))
					if ok.Load() != 1 || replayed.Load() != int32(len(c.urls)-1) {
						fail("signature %d accepted %d times, refused as replay %d times", i, ok.Load(), replayed.Load())
						continue
					}
					sigs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	t.Logf("%d requests: %d password grants, %d bearer calls; each accepted exactly once of %d sends: %d TPV signatures, %d PoP jtis, %d Apstrata signatures",
		requests.Load(), grants.Load(), bearers.Load(), len(c.urls), sigs.Load(), jtis.Load(), apsSigs.Load())
	if t.Failed() {
		return
	}

	// A token revoked on node 0 after every node has it cached.
	tok := c.passwordGrant(t, 1, admKey, admSecret)
	for n := range c.urls {
		if r := c.do(n, "GET", "/cluster/whoami", bearerHeader(tok), ""); r.status != 200 {
			t.Fatalf("node %d before revocation: %d", n, r.status)
		}
	}
	revoked := time.Now()
	if r := c.do(0, "POST", "/oauth/revoke", basicHeader(admKey, admSecret), "token="+url.QueryEscape(tok)); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	bound := oauth2.DefaultConfig().TokenCacheMaxAge
	for n := range c.urls {
		waitFor(t, bound+time.Second, fmt.Sprintf("node %d refusing the revoked token", n), func() bool {
			return c.do(n, "GET", "/cluster/whoami", bearerHeader(tok), "").status == 401
		})
		since := time.Since(revoked)
		if since > bound+500*time.Millisecond { // scheduling slack on a loaded machine
			t.Errorf("node %d refused the revoked token only %v after the revocation (bound %v)", n, since, bound)
		}
		t.Logf("node %d refuses the revoked token %v after the revocation (bound %v)", n, since.Round(time.Millisecond), bound)
	}
}

// TestRevocationBound shows the bound with a manual clock: with
// token_cache_max_age set to 5 s, a token revoked on node 0 is refused
// there at once, may still be honoured by the other nodes from their
// caches for less than 5 s, and is refused by every node once 5 s have
// passed, without any further message between the nodes.
func TestRevocationBound(t *testing.T) {
	const bound = 5 * time.Second
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	nodes, c := threeNodes(t, nodeOptions{clock: t0, oauth2: func(cfg *oauth2.Config) { cfg.TokenCacheMaxAge = bound }})
	advance := func(d time.Duration) {
		for _, n := range nodes {
			n.Clock.Advance(d)
		}
	}
	admKey, admSecret := nodes[0].Admin.Key, nodes[0].Admin.Secret
	tok := c.passwordGrant(t, 0, admKey, admSecret)
	status := func(n int) int { return c.do(n, "GET", "/cluster/whoami", bearerHeader(tok), "").status }
	for n := range nodes {
		if s := status(n); s != 200 {
			t.Fatalf("node %d: %d", n, s)
		}
	}
	if r := c.do(0, "POST", "/oauth/revoke", basicHeader(admKey, admSecret), "token="+url.QueryEscape(tok)); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if s := status(0); s != 401 {
		t.Fatalf("the revoking node must refuse at once, got %d", s)
	}
	// Within the bound the other nodes answer from their caches: this is
	// the staleness the bound permits (and proves the caches are in use).
	advance(bound - time.Second)
	for n := 1; n < 3; n++ {
		if s := status(n); s != 200 {
			t.Fatalf("node %d inside the bound: %d (expected the cached answer)", n, s)
		}
	}
	advance(time.Second)
	for n := range nodes {
		if s := status(n); s != 401 {
			t.Fatalf("node %d %v after the revocation: %d, want 401", n, bound, s)
		}
	}
}

// TestFailureLimitAcrossNodes proves the failed-authentication limit per
// access key and address is one limit for the cluster, not one per node:
// wrong secrets for one key from one address sent concurrently
// round-robin to three nodes get exactly auth_failures.pair_limit
// "invalid_grant" answers in total, every later attempt from there (also
// with the right secret, on any node) is refused with 429.
func TestFailureLimitAcrossNodes(t *testing.T) {
	const limit = 5
	nodes, c := threeNodes(t, nodeOptions{limits: core.GuardLimits{Pair: limit, Address: 100, Credential: 100, Window: 5 * time.Minute}})
	admTok := c.passwordGrant(t, 0, nodes[0].Admin.Key, nodes[0].Admin.Secret)
	r := c.do(1, "POST", "/accesskeys", http.Header{"Authorization": {"Bearer " + admTok}, "Content-Type": {"application/json"}}, `{"Name":"limited"}`)
	if r.status != 201 {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	m := r.json(t)
	key, secret := m["Key"].(string), m["Secret"].(string)

	attempts := 10 * limit
	var invalid, limited, other atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do(c.pick(), "POST", "/oauth/token", formHeader, passwordForm(key, "wrong-"+strconv.Itoa(i)))
			switch {
			case r.status == 400 && jsonMap(r.body)["error"] == "invalid_grant":
				invalid.Add(1)
			case r.status == 429 && r.header.Get("Retry-After") != "":
				limited.Add(1)
			default:
				other.Add(1)
				t.Errorf("unexpected answer %v %d %s", r.err, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if invalid.Load() != limit || limited.Load() != int32(attempts-limit) {
		t.Fatalf("%d wrong secrets over 3 nodes: %d answered invalid_grant, %d rate limited; want exactly %d invalid_grant cluster-wide",
			attempts, invalid.Load(), limited.Load(), limit)
	}
	for n := range nodes {
		if r := c.do(n, "POST", "/oauth/token", formHeader, passwordForm(key, secret)); r.status != 429 {
			t.Fatalf("node %d, right secret over the limit: %d %s", n, r.status, r.body)
		}
	}
}

// TestAttack_GuessesPerKeyBoundedAcrossNodes: 30 addresses guess one
// key's secret 8 times each, concurrently, round-robin over two nodes on
// one PostgreSQL database. The wrong guesses answered as such stay within
// the cluster-wide per-key limit plus one per address (the bound of
// docs/limiter.md), and the owner still gets in on either node from an
// address that has not failed.
func TestAttack_GuessesPerKeyBoundedAcrossNodes(t *testing.T) {
	limits := core.GuardLimits{Pair: 4, Address: 100, Credential: 10, Window: 5 * time.Minute}
	nodes, c := pgNodes(t, 2, nodeOptions{limits: limits})
	admTok := c.passwordGrant(t, 0, nodes[0].Admin.Key, nodes[0].Admin.Secret)
	r := c.do(1, "POST", "/accesskeys", http.Header{"Authorization": {"Bearer " + admTok}, "Content-Type": {"application/json"}}, `{"Name":"victim"}`)
	if r.status != 201 {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	m := r.json(t)
	key, secret := m["Key"].(string), m["Secret"].(string)
	from := func(addr string) http.Header {
		h := formHeader.Clone()
		h.Set("X-Forwarded-For", addr)
		return h
	}

	const addrs, each = 30, 8
	var answered, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range addrs * each {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do(i%2, "POST", "/oauth/token", from("203.0.113."+strconv.Itoa(i%addrs)), passwordForm(key, "guess-"+strconv.Itoa(i)))
			switch {
			case r.status == 400 && jsonMap(r.body)["error"] == "invalid_grant":
				answered.Add(1)
			case r.status == 429 && r.header.Get("Retry-After") != "":
				limited.Add(1)
			default:
				t.Errorf("unexpected answer %v %d %s", r.err, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d guesses from %d addresses over 2 nodes: %d answered invalid_grant, %d limited", addrs*each, addrs, answered.Load(), limited.Load())
	if got := answered.Load(); got > int32(limits.Credential+addrs) || got < addrs {
		t.Fatalf("%d guesses over 2 nodes: %d answered, want between %d and %d (per-key limit + addresses)", addrs*each, got, addrs, limits.Credential+addrs)
	}
	for n := range nodes {
		if r := c.do(n, "POST", "/oauth/token", from("198.51.100."+strconv.Itoa(n+1)), passwordForm(key, secret)); r.status != 200 {
			t.Fatalf("node %d, owner from a clean address: %d %s", n, r.status, r.body)
		}
		if r := c.do(n, "POST", "/oauth/token", from("203.0.113.5"), passwordForm(key, secret)); r.status != 429 {
			t.Fatalf("node %d, right secret from an attacking address: %d %s", n, r.status, r.body)
		}
	}
}
