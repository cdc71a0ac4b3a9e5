package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdkaps "github.com/authgate/authgate/sdk/apstrata"
	sdkpop "github.com/authgate/authgate/sdk/pop"
)

// The test binary doubles as the authgate binary: with AUTHGATE_TEST_MAIN=1
// it runs the real CLI (cmd/authgate only calls cli.Main), so the fault
// tests can kill real server processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("AUTHGATE_TEST_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// long reports whether the long variants were asked for.
func long() bool { return os.Getenv("AUTHGATE_LONG_TESTS") == "1" }

// scale picks the short or the long figure.
func scale(short, longer int) int {
	if long() {
		return longer
	}
	return short
}

func newMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// okRoute is a bearer-protected route answering who the caller is: the
// cheapest thing a resource server does behind BearerAuth.
type okRoute struct{ bearer *oauth2.BearerAuth }

func (o okRoute) Register(mux *http.ServeMux) {
	mux.Handle("GET /cluster/whoami", o.bearer.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oauth2.CallerFrom(r.Context())
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"principal": c.PrincipalID(), "jti": c.Token.ID})
	})))
}

// nodeOptions configure one in-process node.
type nodeOptions struct {
	dsn    string
	master []byte
	clock  time.Time // zero: system clock
	oauth2 func(*oauth2.Config)
	taap   func(*taap.Config)
	limits core.GuardLimits // zero: the defaults
	// allowedHosts are Host headers the node believes for links and
	// signed service URLs (allowed_hosts): the load balancer's name.
	allowedHosts []string
	// previous are further master keys the node knows (a rotation).
	previous [][]byte
	// readCache turns the store's read cache on with this max age, as
	// serve runs on PostgreSQL (zero: off).
	readCache time.Duration
}

// startNode runs every family the harness's configuration enables, built
// from the one family list as serve builds them, plus okRoute, behind the
// real handler chain, on the shared database.
func startNode(t testing.TB, o nodeOptions) *agtest.Env {
	t.Helper()
	return agtest.Start(t, agtest.Options{PostgresDSN: o.dsn, MasterKey: o.master, PreviousMasterKeys: o.previous, ManualClock: o.clock, AuthLimits: o.limits, ReadCacheMaxAge: o.readCache}, func(svc core.Services) []httpapi.Module {
		cfg := harnessConfig()
		if o.oauth2 != nil {
			o.oauth2(&cfg.OAuth2)
		}
		if o.taap != nil {
			o.taap(&cfg.TAAP)
		}
		// The test client is a trusted proxy: X-Forwarded-For names the client's address.
		addr := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
		origin, err := httpapi.NewOrigin("", o.allowedHosts, addr)
		if err != nil {
			t.Fatal(err)
		}
		return append(familyModules(t, svc, &cfg, addr, origin), okRoute{oauth2.NewBearerAuth(svc, addr)})
	})
}

// familyModules builds the main-listener modules of every family cfg
// enables from the one family list, as serve does, with the CA as shared
// state and no access policy after authentication.
func familyModules(t testing.TB, svc core.Services, cfg *config.Config, addr httpapi.ClientAddr, origin httpapi.Origin) []httpapi.Module {
	t.Helper()
	return familyBuild(t, svc, cfg, addr, origin).HTTP
}

// familyBuild is familyModules with everything the families contribute
// (their admin routes too).
func familyBuild(t testing.TB, svc core.Services, cfg *config.Config, addr httpapi.ClientAddr, origin httpapi.Origin) *family.Built {
	t.Helper()
	built, err := cli.Families().Build(context.Background(), family.Deps{Config: cfg, Svc: svc, Log: svc.Log,
		Addr: addr, Origin: origin, CA: ca.New(cfg.CA, ca.DepsFrom(svc))})
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Background) > 0 {
		t.Fatalf("families %v start background loops the harness does not run", built.Families)
	}
	return built
}

// harnessOff are the families the cluster harness's nodes do not serve on
// their main listener, and why. A family added to the family list is
// served by startNode unless it is named here (TestHarnessServesEveryFamily).
var harnessOff = map[string]string{
	"m2m": "its TA and PE listeners need partner material; startM2MEnv serves an environment of its own on the shared store",
}

// harnessConfig is the configuration of a harness node: the defaults, with
// the families of harnessOff turned off.
func harnessConfig() config.Config {
	cfg := config.Default()
	cfg.M2M.Enabled = false
	return cfg
}

// client is the test's own load balancer: round-robin over the nodes'
// base URLs, with a connection pool large enough for the load.
type client struct {
	urls []string
	next atomic.Uint64
	http *http.Client
}

func newClient(urls ...string) *client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &client{urls: urls, http: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// pick returns the next node index.
func (c *client) pick() int { return int(c.next.Add(1)-1) % len(c.urls) }

type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body not JSON: %q", r.status, r.body)
	}
	return m
}

// do sends one request to node i.
func (c *client) do(i int, method, path string, header http.Header, body string) reply {
	req, err := http.NewRequest(method, c.urls[i]+path, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func basicHeader(key, secret string) http.Header {
	h := formHeader.Clone()
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(url.QueryEscape(key), url.QueryEscape(secret))
	h.Set("Authorization", r.Header.Get("Authorization"))
	return h
}

func passwordForm(key, secret string) string {
	return url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}.Encode()
}

// passwordGrant gets an access token from node i or fails the test.
func (c *client) passwordGrant(t testing.TB, i int, key, secret string) string {
	t.Helper()
	r := c.do(i, "POST", "/oauth/token", formHeader, passwordForm(key, secret))
	if r.err != nil || r.status != 200 {
		t.Fatalf("password grant on node %d: %v %d %s", i, r.err, r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	if tok == "" {
		t.Fatalf("no access_token in %s", r.body)
	}
	return tok
}

// child is an authgate server process (this test binary running the CLI).
type child struct {
	cmd    *exec.Cmd
	url    string
	stdout *agtest.SyncBuffer
	stderr *agtest.SyncBuffer
	done   chan error
}

var listenRE = regexp.MustCompile(`msg=listening server=main addr=(\S+) scheme=(\S+)`)

// startChild runs `authgate serve` on a free loopback port with the given
// database and master key and extra environment, and waits until it listens.
func startChild(t testing.TB, db string, master []byte, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--db", db)
	cmd.Env = append(os.Environ(), append([]string{"AUTHGATE_TEST_MAIN=1", "AUTHGATE_ACCESS_LOG=false",
		"AUTHGATE_MASTER_KEY=" + hex.EncodeToString(master)}, env...)...)
	c := &child{cmd: cmd, stdout: &agtest.SyncBuffer{}, stderr: &agtest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = c.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-c.done })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.stderr.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[2] + "://" + m[1]:
				default:
				}
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case c.url = <-addr:
	case err := <-c.done:
		c.done <- err
		t.Fatalf("server exited before listening: %v\n%s", err, c.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start:\n%s", c.stderr.String())
	}
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-c.done
	c.done <- err
}

var bootRE = regexp.MustCompile(`key:\s+(\S+)\s+secret:\s+(\S+)`)

// bootstrapAdmin reads the admin key and secret the first node printed.
func (c *child) bootstrapAdmin(t testing.TB) (string, string) {
	t.Helper()
	// stdout is copied by its own goroutine: the listening line on stderr
	// can arrive first, so give the bootstrap lines a moment.
	var m []string
	deadline := time.Now().Add(10 * time.Second)
	for m = bootRE.FindStringSubmatch(c.stdout.String()); m == nil && time.Now().Before(deadline); m = bootRE.FindStringSubmatch(c.stdout.String()) {
		time.Sleep(10 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no bootstrap admin in the first node's output: %q", c.stdout.String())
	}
	return m[1], m[2]
}

// waitReady polls /readyz until it answers 200.
func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// ctxT returns a context cancelled when the test ends.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// jsonMap decodes a JSON object, nil when the body is not one.
func jsonMap(b []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// sendToAll sends the same request to every node at once, with the Host
// header of the first as a load balancer forwards it (signatures that cover
// the service URL stay valid on every node).
func sendToAll(c *client, req *http.Request) []reply {
	body := ""
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
	replies := make([]reply, len(c.urls))
	var wg sync.WaitGroup
	for n := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := http.NewRequest(req.Method, c.urls[n]+req.URL.RequestURI(), strings.NewReader(body))
			if err != nil {
				replies[n] = reply{err: err}
				return
			}
			r.Header = req.Header.Clone()
			r.Host = req.URL.Host
			resp, err := c.http.Do(r)
			if err != nil {
				replies[n] = reply{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			replies[n] = reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
		}()
	}
	wg.Wait()
	return replies
}

// popClient sends TAAP resource calls: Bearer access token plus a PoP
// token with a fresh jti, built by the SDK.
type popClient struct {
	sdk   *sdkpop.Client
	token string
	path  string
}

func newPoPClient(t testing.TB, n *agtest.Env, c *client) *popClient {
	t.Helper()
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	info, err := taap.CreateClient(ctx, n.Svc, taap.ClientSpec{Name: "cluster", PublicKeys: [][]byte{sdkpop.PublicKeyPEM(key)}})
	if err != nil {
		t.Fatal(err)
	}
	const iccid = "8901260000000000006"
	if _, err := taap.AddSIM(ctx, n.Svc, info.OrgID, taap.SIM{ICCID: iccid}); err != nil {
		t.Fatal(err)
	}
	// The token comes from another node than the one that registered the client.
	p := &popClient{sdk: &sdkpop.Client{BaseURL: c.urls[1], ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		Builder: &sdkpop.Builder{Key: key}, HTTP: c.http}, path: "/iot-connectivity/v1/devices/" + iccid}
	tr, err := p.sdk.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.token = tr.AccessToken
	return p
}

func (p *popClient) request() (*http.Request, error) {
	return p.sdk.NewRequest(context.Background(), http.MethodGet, p.path, nil, p.token)
}

func (p *popClient) accepted(r reply) bool { return r.status == 200 }

// replayed: refused by the jti check, the last one Verify runs, so the
// token was otherwise valid on that node.
func (p *popClient) replayed(r reply) bool {
	return r.status == 401 && jsonMap(r.body)["error"] == taap.ErrorCode && strings.Contains(string(r.body), "jti")
}

// apstrataClient signs VerifyCredentials as the account owner (PHP SDK habits).
type apstrataClient struct{ sdk *sdkaps.Client }

func newApstrataClient(t testing.TB, n *agtest.Env, c *client) *apstrataClient {
	t.Helper()
	acct, err := apstrata.CreateAccount(context.Background(), n.Svc, "Cluster Account")
	if err != nil {
		t.Fatal(err)
	}
	// The signature covers the service URL, which differs per node only by
	// port: sign with node 0's and let every node accept that URL.
	return &apstrataClient{sdk: &sdkaps.Client{ServiceURL: c.urls[0] + "/apsdb/rest", AuthKey: acct.AuthKey, Secret: acct.Secret}}
}

func (a *apstrataClient) request() (*http.Request, error) {
	params := url.Values{"apsws.responseType": {"json"}}
	// A unique parameter keeps signatures distinct within one second.
	params.Set("apsws.requestId", core.NewID())
	a.sdk.Sign(http.MethodPost, "VerifyCredentials", params)
	return a.sdk.Request(context.Background(), http.MethodPost, "VerifyCredentials", params, nil)
}

func (a *apstrataClient) accepted(r reply) bool {
	resp, err := sdkaps.Parse(r.body)
	return err == nil && r.status == 200 && resp.Status == "success"
}

func (a *apstrataClient) replayed(r reply) bool {
	resp, err := sdkaps.Parse(r.body)
	return err == nil && resp.Status == "failure" && strings.Contains(strings.ToLower(resp.ErrorDetail), "already")
}
