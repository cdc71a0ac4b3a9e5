package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// authgate runs the real CLI in-process.
func authgate(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// watch runs the node's keyring watcher (as serve does) until the returned
// stop is called.
func watch(t *testing.T, n *agtest.Env, name string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Svc.WatchKeyring(ctx, name, 100*time.Millisecond) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestClusterMasterKeyRotation rotates the master key of two nodes on one
// PostgreSQL database without downtime, following docs/operations.md: the
// nodes run with the old key; a rotation is refused while they do not
// know the new key; they are replaced one by one by nodes knowing both
// (rolling restart); `authgate admin rotate-master-key` switches every
// node and re-seals; hashes move on their next use; `master-key retire`
// is refused until nothing needs the old key, then retires it. Traffic
// (password grants, bearer calls with a token issued before the rotation,
// TPV signed requests: a sealed app secret and an auth token from before) runs on both nodes throughout, and
// no request fails.
func TestClusterMasterKeyRotation(t *testing.T) {
	dsn := pgtest.DSN(t)
	t.Setenv("AUTHGATE_MASTER_KEY_REFRESH", "100ms")
	ctx := context.Background()
	oldKey, newKey := newMasterKey(t), newMasterKey(t)
	oldID, newID := core.KeyID(oldKey), core.KeyID(newKey)
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	for f, k := range map[string][]byte{oldFile: oldKey, newFile: newKey} {
		if err := os.WriteFile(f, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	both := []string{"--db", dsn, "--data-dir", dir, "--master-key-file", newFile, "--previous-master-key-file", oldFile}

	a0 := startNode(t, nodeOptions{dsn: dsn, master: oldKey})
	if err := a0.Svc.CheckKeyring(ctx); err != nil { // as serve does at start
		t.Fatal(err)
	}
	b0 := startNode(t, nodeOptions{dsn: dsn, master: oldKey})
	if err := b0.Svc.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	stopA0, stopB0 := watch(t, a0, "a0"), watch(t, b0, "b0")
	admKey, admSecret := a0.Admin.Key, a0.Admin.Secret
	brand, err := tpv.CreateBrand(ctx, a0.Svc, "", "Rotating Brand")
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[client]
	cur.Store(newClient(a0.URL, b0.URL))
	grant := cur.Load().do(0, "POST", "/oauth/token", formHeader, passwordForm(admKey, admSecret))
	if grant.status != 200 {
		t.Fatalf("password grant: %d %s", grant.status, grant.body)
	}
	oldToken, _ := grant.json(t)["access_token"].(string)
	oldRefresh, _ := grant.json(t)["refresh_token"].(string)
	login := cur.Load().do(1, "POST", sdktpv.LoginURL("", brand.ApplicationToken, brand.AppSecret, time.Now()), nil, "")
	if login.status != 200 {
		t.Fatalf("TPV login: %d %s", login.status, login.body)
	}
	authToken, _ := login.json(t)["auth_token"].(string)
	var seq atomic.Int64

	// Traffic on whichever two nodes serve, until the end.
	var (
		mu       sync.Mutex
		issued   []string // every token value handed out, to be used once at the end
		requests atomic.Int64
		failures = make(chan string, 16)
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	fail := func(format string, a ...any) {
		select {
		case failures <- fmt.Sprintf(format, a...):
		default:
		}
	}
	const workers = 4
	var iters [workers]atomic.Int64 // iterations each worker completed
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				iters[w].Add(1)
				select {
				case <-stop:
					return
				default:
				}
				c := cur.Load()
				n, m := i%2, (i+1)%2
				r := c.do(n, "POST", "/oauth/token", formHeader, passwordForm(admKey, admSecret))
				requests.Add(1)
				if r.err != nil || r.status != 200 {
					fail("password grant on node %d: %v %d %s", n, r.err, r.status, r.body)
					continue
				}
				tok := jsonMap(r.body)
				access, _ := tok["access_token"].(string)
				refresh, _ := tok["refresh_token"].(string)
				for _, v := range []string{access, oldToken} {
					r = c.do(m, "GET", "/cluster/whoami", bearerHeader(v), "")
					requests.Add(1)
					if r.err != nil || r.status != 200 {
						fail("bearer call on node %d: %v %d %s", m, r.err, r.status, r.body)
					}
				}
				// A TPV signed request: the app secret is sealed, the auth token hashed.
				path, h := tpvSigned(t, brand.AppSecret, authToken, int(seq.Add(1)), time.Now())
				r = c.do(m, "GET", path, h, "")
				requests.Add(1)
				if r.err != nil || r.status != 200 {
					fail("TPV signed request on node %d: %v %d %s", m, r.err, r.status, r.body)
				}
				mu.Lock()
				issued = append(issued, access, refresh)
				mu.Unlock()
			}
		}()
	}
	stopTraffic := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	defer stopTraffic()
	waitRequests := func(n int64) { // let some traffic through (no timing assertion)
		for start := requests.Load(); requests.Load() < start+n; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRequests(40)
	// settle returns once every worker finished an iteration it started
	// after the call.
	settle := func() {
		var snap [workers]int64
		for w := range snap {
			snap[w] = iters[w].Load()
		}
		for w := range snap {
			for iters[w].Load() < snap[w]+2 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	// switchTo points the traffic at other nodes and returns once no worker
	// still uses the previous ones.
	switchTo := func(c *client) {
		cur.Store(c)
		settle()
	}

	// 1. The new key is not known to the running nodes: refused.
	if code, _, msg := authgate(append([]string{"admin", "rotate-master-key"}, both...)...); code == 0 || !strings.Contains(msg, "do not know master key "+newID) {
		t.Fatalf("rotation while nodes lack the new key: %d %s", code, msg)
	}
	// 2. Rolling restart: each node is replaced by one knowing both keys.
	opts := nodeOptions{dsn: dsn, master: newKey, previous: [][]byte{oldKey}}
	a1 := startNode(t, opts)
	watch(t, a1, "a1")
	if a1.Svc.Keys.ActiveKeyID() != oldID {
		t.Fatal("a restarted node switched before the rotation")
	}
	switchTo(newClient(a1.URL, b0.URL))
	stopA0()
	a0.Srv.Close()
	waitRequests(40)
	b1 := startNode(t, opts)
	watch(t, b1, "b1")
	switchTo(newClient(a1.URL, b1.URL))
	stopB0()
	b0.Srv.Close()
	waitRequests(40)

	// 3. Rotate, with traffic.
	code, out, msg := authgate(append([]string{"admin", "rotate-master-key"}, both...)...)
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, msg)
	}
	var res core.RotateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Active != newID || res.Previous != oldID || res.ResealedCredentials < 1 {
		t.Fatalf("rotate output: %s (%v)", out, err)
	}
	for _, n := range []*agtest.Env{a1, b1} {
		for i := 0; n.Svc.Keys.ActiveKeyID() != newID; i++ {
			if i == 1000 {
				t.Fatal("a node did not follow the rotation")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRequests(40)
	if code, _, msg := authgate(append([]string{"admin", "master-key", "retire", oldID}, both...)...); code == 0 || !strings.Contains(msg, "still needed by") {
		t.Fatalf("retire right after the rotation: %d %s", code, msg)
	}

	// 4. Every value made before is used once: the hashes move.
	settle() // every iteration that began under the old key has recorded its tokens
	mu.Lock()
	values := append([]string{oldToken, oldRefresh, authToken}, issued...)
	mu.Unlock()
	for _, v := range values {
		if v == "" {
			continue
		}
		if tk, err := a1.Svc.Tokens.Find(ctx, v); err != nil || tk.KeyID != newID {
			t.Fatalf("token issued during the rotation: %+v %v", tk, err)
		}
	}
	// (the admin key moved with the traffic's password grants)
	code, out, msg = authgate(append([]string{"admin", "master-key", "status"}, both...)...)
	var st core.KeyStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Active != newID || st.NeedPrevious != 0 {
		t.Fatalf("status: %d %s %s", code, out, msg)
	}
	if code, _, msg := authgate(append([]string{"admin", "master-key", "retire", oldID}, both...)...); code != 0 {
		t.Fatalf("retire: %d %s", code, msg)
	}
	for _, n := range []*agtest.Env{a1, b1} {
		if err := n.Svc.RefreshKeyring(ctx); err != nil || len(n.Svc.Keys.Fallbacks()) != 0 {
			t.Fatalf("node after the retirement: %v %v", err, n.Svc.Keys.Fallbacks())
		}
	}
	waitRequests(40)
	stopTraffic()
	select {
	case f := <-failures:
		t.Fatalf("a request failed during the rotation (%d requests): %s", requests.Load(), f)
	default:
	}
	t.Logf("%d requests on two nodes during the rotation, none failed", requests.Load())
}
