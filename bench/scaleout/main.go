// Command scaleout measures an authgate cluster on one PostgreSQL: it
// starts 1, 2, ... `authgate serve` processes (each pinned with taskset
// to the CPUs given), provisions one credential per scheme through the
// store, and drives closed-loop load round-robin over the nodes per
// scheme. Per node count and scheme it reports the cluster's req/s, the
// requests per PostgreSQL transaction (pg_stat_database.xact_commit delta
// over requests), the database's CPU per request (user+system time of the
// postmaster and all its children, from /proc) and the nodes' CPU per
// request, and from those the throughput the cluster would reach with a
// core per node and one for the database (CPU-normalised: the machine may
// have fewer cores than processes). bench/scaleout.sh runs it; loopback
// only, bounded by -duration per phase.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/store"
	sdkaps "github.com/authgate/authgate/sdk/apstrata"
	sdkpop "github.com/authgate/authgate/sdk/pop"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

type flags struct {
	db, bin, pgdata, nodeCPUs, out string
	nodes                          []int
	schemes                        []string
	duration, warmup               time.Duration
	conc                           int
}

func main() {
	f := flags{}
	var nodes, schemes string
	flag.StringVar(&f.db, "db", "", "postgres:// DSN of a throwaway database (loopback)")
	flag.StringVar(&f.bin, "bin", "", "authgate binary")
	flag.StringVar(&f.pgdata, "pgdata", "", "the server's data directory (postmaster.pid names the process whose CPU is measured)")
	flag.StringVar(&f.nodeCPUs, "node-cpus", "", "taskset CPU list every node is pinned to (empty: not pinned)")
	flag.StringVar(&nodes, "nodes", "1,2,3", "node counts to measure")
	flag.StringVar(&schemes, "schemes", "bearer,password,tpv,apstrata,pop", "schemes to load")
	flag.DurationVar(&f.duration, "duration", 4*time.Second, "measured load per node count and scheme")
	flag.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured load before each phase")
	flag.IntVar(&f.conc, "concurrency", 48, "concurrent closed-loop clients (all nodes together)")
	flag.StringVar(&f.out, "out", "bench/results/scaleout", "directory for table.txt and results.json")
	flag.Parse()
	for _, s := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 8 {
			fail(fmt.Errorf("-nodes: %q is not a count from 1 to 8", s))
		}
		f.nodes = append(f.nodes, n)
	}
	f.schemes = strings.Split(schemes, ",")
	if f.db == "" || f.bin == "" || f.pgdata == "" || f.duration <= 0 || f.duration > time.Minute || f.conc < 1 || f.conc > 512 {
		fail(fmt.Errorf("need -db, -bin, -pgdata, a -duration up to 1m and -concurrency 1..512"))
	}
	if err := run(context.Background(), f); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scaleout:", err)
	os.Exit(1)
}

// row is one node count and scheme.
type row struct {
	Nodes          int     `json:"nodes"`
	Scheme         string  `json:"scheme"`
	RPS            float64 `json:"rps"`
	Errors         int64   `json:"errors"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	ReqPerXact     float64 `json:"requests_per_transaction"`
	DBCPUus        float64 `json:"db_cpu_us_per_request"`
	NodeCPUus      float64 `json:"node_cpu_us_per_request"`
	LoadCPUus      float64 `json:"load_generator_cpu_us_per_request"`
	CoreNormalised float64 `json:"rps_with_a_core_each"`
}

func run(ctx context.Context, f flags) error {
	tmp, err := os.MkdirTemp("", "authgate-scaleout.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		return err
	}
	pgPID, err := postmasterPID(f.pgdata)
	if err != nil {
		return err
	}
	// Provisioning goes through the store, as `authgate admin` would.
	st, err := store.Open(ctx, f.db, tmp)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := core.NewKeyring(master)
	if err != nil {
		return err
	}
	svc := core.NewServices(st, keys, core.SystemClock{}, slog.New(slog.DiscardHandler))
	if err := svc.CheckKeyring(ctx); err != nil {
		return err
	}
	w, err := provision(ctx, svc)
	if err != nil {
		return err
	}
	stats, err := sql.Open("pgx", f.db)
	if err != nil {
		return err
	}
	defer stats.Close()
	stats.SetMaxOpenConns(1)

	var rows []row
	client := bench.NewClient(f.conc, nil)
	for _, n := range f.nodes {
		fmt.Fprintf(os.Stderr, "== %d node(s)\n", n)
		nodes, err := startNodes(f, tmp, master, n)
		if err != nil {
			return err
		}
		var urls []string
		for _, nd := range nodes {
			urls = append(urls, nd.url)
		}
		schemes, err := w.schemes(ctx, client, urls)
		if err != nil {
			stopNodes(nodes)
			return err
		}
		time.Sleep(statsSettle) // start-up and log-in transactions reported before the first reading
		for _, name := range f.schemes {
			sc, ok := schemes[name]
			if !ok {
				stopNodes(nodes)
				return fmt.Errorf("unknown scheme %q", name)
			}
			r, err := measure(ctx, f, client, stats, pgPID, nodes, sc)
			if err != nil {
				stopNodes(nodes)
				return err
			}
			r.Nodes, r.Scheme = n, name
			fmt.Fprintf(os.Stderr, "  %-9s %7.0f req/s  %5.2f req/xact  db %6.1f µs/req  nodes %6.1f µs/req  errors %d\n",
				name, r.RPS, r.ReqPerXact, r.DBCPUus, r.NodeCPUus, r.Errors)
			rows = append(rows, r)
		}
		stopNodes(nodes)
	}
	return write(f, rows)
}

// world is what provisioning made: one credential per scheme.
type world struct {
	svc       core.Services
	adminKey  string
	adminSec  string
	brand     tpv.BrandCredentials
	account   apstrata.Account
	popKey    *rsa.PrivateKey
	popClient taap.ClientInfo
	iccid     string
	seq       atomic.Int64
	lastMS    atomic.Int64
	pop       chan string
	popRate   float64
}

func provision(ctx context.Context, svc core.Services) (*world, error) {
	w := &world{svc: svc, iccid: "8901260000000000014", popRate: 3000}
	admin, err := svc.EnsureBootstrapAdmin(ctx)
	if err != nil {
		return nil, err
	}
	w.adminKey, w.adminSec = admin.Key, admin.Secret
	if w.brand, err = tpv.CreateBrand(ctx, svc, "", "Scale-out Brand"); err != nil {
		return nil, err
	}
	if w.account, err = apstrata.CreateAccount(ctx, svc, "Scale-out Account"); err != nil {
		return nil, err
	}
	if w.popKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if w.popClient, err = taap.CreateClient(ctx, svc, taap.ClientSpec{Name: "scaleout", PublicKeys: [][]byte{sdkpop.PublicKeyPEM(w.popKey)}}); err != nil {
		return nil, err
	}
	if _, err := taap.AddSIM(ctx, svc, w.popClient.OrgID, taap.SIM{ICCID: w.iccid}); err != nil {
		return nil, err
	}
	return w, nil
}

// phase is one scheme's load over the nodes, with what must happen
// before each measured phase (signing PoP tokens ahead).
type phase struct {
	bench.Scheme
	before func(secs float64) error
	after  func(rps float64)
}

// schemes logs in where a scheme needs a session and returns the request
// builders, each sending request i to node i mod len(urls).
func (w *world) schemes(ctx context.Context, hc *http.Client, urls []string) (map[string]phase, error) {
	var rr atomic.Uint64
	pick := func() string { return urls[int(rr.Add(1)-1)%len(urls)] }
	grant := url.Values{"grant_type": {"password"}, "username": {w.adminKey}, "password": {w.adminSec}}.Encode()
	tok, err := postForm(ctx, hc, urls[0]+"/oauth/token", grant)
	if err != nil {
		return nil, err
	}
	access, _ := tok["access_token"].(string)
	login, err := postForm(ctx, hc, sdktpv.LoginURL(urls[0], w.brand.ApplicationToken, w.brand.AppSecret, time.Now()), "")
	if err != nil {
		return nil, err
	}
	authToken, _ := login["auth_token"].(string)
	pc := &sdkpop.Client{BaseURL: urls[0], ClientID: w.popClient.ClientID, ClientSecret: w.popClient.ClientSecret, Builder: &sdkpop.Builder{Key: w.popKey}, HTTP: hc}
	tr, err := pc.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("taap token: %w", err)
	}
	devicePath := strings.Replace(taap.RouteDevice, "{iccid}", w.iccid, 1)
	apsNow := func() time.Time { // apsws.time in ms, unique per request: each signature is used once
		for {
			last, now := w.lastMS.Load(), time.Now().UnixMilli()
			if next := max(now, last+1); w.lastMS.CompareAndSwap(last, next) {
				return time.UnixMilli(next)
			}
		}
	}
	get := func(ctx context.Context, u string, h http.Header) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			for k, v := range h {
				req.Header[k] = v
			}
		}
		return req, err
	}
	signPoP := func() (string, error) {
		req, err := pc.NewRequest(context.Background(), http.MethodGet, devicePath, nil, tr.AccessToken)
		if err != nil {
			return "", err
		}
		return req.Header.Get(sdkpop.Header), nil
	}
	return map[string]phase{
		"bearer": {Scheme: bench.Scheme{Name: "bearer", Request: func(ctx context.Context) (*http.Request, error) {
			return get(ctx, pick()+"/", http.Header{"Authorization": {"Bearer " + access}})
		}}},
		"password": {Scheme: bench.Scheme{Name: "password", Request: func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, pick()+"/oauth/token", strings.NewReader(grant))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return req, err
		}}},
		"tpv": {Scheme: bench.Scheme{Name: "tpv", Request: func(ctx context.Context) (*http.Request, error) {
			u, _ := url.Parse(pick() + "/api/v1/test/api?n=" + strconv.FormatInt(w.seq.Add(1), 10))
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			sig, err := sdktpv.RequestSignature(w.brand.AppSecret, "GET", u, ts, nil, authToken)
			if err != nil {
				return nil, err
			}
			return get(ctx, u.String(), http.Header{"Authorization": {authToken}, sdktpv.HeaderTimestamp: {ts}, sdktpv.HeaderSignature: {sig}})
		}}},
		"apstrata": {Scheme: bench.Scheme{Name: "apstrata", Request: func(ctx context.Context) (*http.Request, error) {
			c := &sdkaps.Client{ServiceURL: pick() + "/apsdb/rest", AuthKey: w.account.AuthKey, Secret: w.account.Secret, Flavor: sdkaps.Java, Now: apsNow}
			params := url.Values{}
			c.Sign(http.MethodPost, "VerifyCredentials", params)
			return c.Request(ctx, http.MethodPost, "VerifyCredentials", params, nil)
		}}},
		"pop": {
			Scheme: bench.Scheme{Name: "pop", Request: func(ctx context.Context) (*http.Request, error) {
				var tok string
				select {
				case tok = <-w.pop:
				default: // pool empty: sign now (the load generator then competes for the CPU)
					var err error
					if tok, err = signPoP(); err != nil {
						return nil, err
					}
				}
				return get(ctx, pick()+devicePath, http.Header{"Authorization": {"Bearer " + tr.AccessToken}, sdkpop.Header: {tok}})
			}},
			before: func(secs float64) error { return w.fillPoP(signPoP, secs) },
			after:  func(rps float64) { w.popRate = rps },
		},
	}, nil
}

// fillPoP signs PoP tokens (unique jti each) ahead of a phase, on every
// core, enough for secs at the last phase's rate (bounded: the tokens live 120 s).
func (w *world) fillPoP(sign func() (string, error), secs float64) error {
	n := min(max(int(w.popRate*1.3*secs), 4000), 40_000)
	w.pop = make(chan string, n)
	errc := make(chan error, runtime.GOMAXPROCS(0))
	// At most 45 s of signing, so the first tokens are still alive at the
	// end of the phase on a loaded machine; the rest is signed inline.
	deadline := time.Now().Add(45 * time.Second)
	for g := range runtime.GOMAXPROCS(0) {
		go func() {
			for i := g; i < n && time.Now().Before(deadline); i += runtime.GOMAXPROCS(0) {
				t, err := sign()
				if err != nil {
					errc <- err
					return
				}
				w.pop <- t
			}
			errc <- nil
		}()
	}
	for range runtime.GOMAXPROCS(0) {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func postForm(ctx context.Context, hc *http.Client, u, form string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, b)
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// measure runs one phase: warm-up, then the measured load between two
// readings of the transaction counter and the CPU clocks.
func measure(ctx context.Context, f flags, hc *http.Client, stats *sql.DB, pgPID int, nodes []*node, p phase) (row, error) {
	rn := &bench.Runner{Client: hc, Duration: f.duration, Warmup: f.warmup}
	if p.before != nil {
		if err := p.before((f.duration + f.warmup).Seconds()); err != nil {
			return row{}, err
		}
	}
	x0, err := commits(stats)
	if err != nil {
		return row{}, err
	}
	db0, node0, self0 := treeCPU(pgPID), nodesCPU(nodes), procCPU(os.Getpid())
	pt := rn.Load(ctx, p.Scheme, f.conc) // warm-up inside, as in authgate bench
	db1, node1, self1 := treeCPU(pgPID), nodesCPU(nodes), procCPU(os.Getpid())
	time.Sleep(statsSettle)
	x1, err := commits(stats)
	if err != nil {
		return row{}, err
	}
	if pt.Requests == 0 {
		return row{}, fmt.Errorf("%s: no request succeeded: %s", p.Name, pt.FirstError)
	}
	if p.after != nil {
		p.after(pt.RPS)
	}
	// The warm-up's requests are not counted by the runner, but its work
	// is in the clocks and counters: scale by the whole time under load.
	total := float64(pt.Requests) * (f.duration + f.warmup).Seconds() / f.duration.Seconds()
	xacts := float64(x1-x0) - 1 // the first reading's own transaction
	r := row{RPS: pt.RPS, Errors: pt.Errors, P50ms: pt.P50ms, P99ms: pt.P99ms,
		ReqPerXact: total / max(xacts, 1),
		DBCPUus:    (db1 - db0).Seconds() * 1e6 / total,
		NodeCPUus:  (node1 - node0).Seconds() * 1e6 / total,
		LoadCPUus:  (self1 - self0).Seconds() * 1e6 / total,
	}
	n := float64(len(nodes))
	r.CoreNormalised = min(n*1e6/max(r.NodeCPUus, 1e-9), 1e6/max(r.DBCPUus, 1e-9))
	return r, nil
}

// statsSettle is how long PostgreSQL may take to report a transaction in
// pg_stat_database: a backend flushes its counts at most once a second
// while busy and 10 s after it went idle.
const statsSettle = 11 * time.Second

// commits reads the database's committed transactions.
func commits(db *sql.DB) (int64, error) {
	var v int64
	err := db.QueryRow(`SELECT xact_commit FROM pg_stat_database WHERE datname=current_database()`).Scan(&v)
	return v, err
}

// clock ticks of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const ticksPerSecond = 100

// procCPU is a process's user+system time.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the command name (which may contain spaces) in parentheses.
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(rest) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	return time.Duration(ut+stime) * time.Second / ticksPerSecond
}

// treeCPU is the CPU time of pid and its children (the postmaster and its
// backends and background workers).
func treeCPU(pid int) time.Duration {
	total := procCPU(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(rest) > 1 && rest[1] == strconv.Itoa(pid) {
			total += procCPU(child)
		}
	}
	return total
}

func postmasterPID(pgdata string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// node is one `authgate serve` process.
type node struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

var listenRE = regexp.MustCompile(`msg=listening server=main addr=(\S+) scheme=(\S+)`)

func startNodes(f flags, tmp string, master []byte, n int) ([]*node, error) {
	var nodes []*node
	for i := range n {
		argv := []string{f.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(tmp, fmt.Sprintf("node%d", i)), "--db", f.db}
		if f.nodeCPUs != "" {
			argv = append([]string{"taskset", "-c", f.nodeCPUs}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "AUTHGATE_MASTER_KEY="+hex.EncodeToString(master), "AUTHGATE_ACCESS_LOG=false")
		pipe, err := cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			stopNodes(nodes)
			return nil, err
		}
		nd := &node{cmd: cmd, done: make(chan struct{})}
		nodes = append(nodes, nd)
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
					select {
					case addr <- m[2] + "://" + m[1]:
					default:
					}
				}
			}
		}()
		go func() { _ = cmd.Wait(); close(nd.done) }()
		select {
		case nd.url = <-addr:
		case <-nd.done:
			stopNodes(nodes)
			return nil, fmt.Errorf("node %d exited before listening", i)
		case <-time.After(60 * time.Second):
			stopNodes(nodes)
			return nil, fmt.Errorf("node %d did not start", i)
		}
	}
	return nodes, nil
}

func nodesCPU(nodes []*node) time.Duration {
	var total time.Duration
	for _, nd := range nodes {
		total += procCPU(nd.cmd.Process.Pid) // taskset execs, so the pid is authgate's
	}
	return total
}

// stopNodes ends the nodes it started (SIGTERM: a clean stop) and waits.
func stopNodes(nodes []*node) {
	for _, nd := range nodes {
		_ = nd.cmd.Process.Signal(os.Interrupt)
	}
	for _, nd := range nodes {
		select {
		case <-nd.done:
		case <-time.After(30 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.done
		}
	}
}

func write(f flags, rows []row) error {
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.out, "results.json"), b, 0o644); err != nil {
		return err
	}
	fh, err := os.Create(filepath.Join(f.out, "table.txt"))
	if err != nil {
		return err
	}
	defer fh.Close()
	out := io.MultiWriter(fh, os.Stdout)
	fmt.Fprintf(out, "machine: %s\n%d concurrent clients round-robin over the nodes, %v per phase after %v warm-up; node CPUs %q\n\n",
		bench.MachineDescription(), f.conc, f.duration, f.warmup, f.nodeCPUs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\tscheme\treq/s\tp99 ms\terrors\treq per PG xact\tPG CPU µs/req\tnode CPU µs/req\tload gen µs/req\treq/s with a core each\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.1f\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", r.Nodes, r.Scheme, r.RPS, r.P99ms, r.Errors, r.ReqPerXact, r.DBCPUus, r.NodeCPUus, r.LoadCPUus, r.CoreNormalised)
	}
	return tw.Flush()
}
