package cli

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Apstrata's signature is HMAC-SHA1 by protocol
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gctune"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/wssec"
	sdkaps "github.com/authgate/authgate/sdk/apstrata"
	sdkm2m "github.com/authgate/authgate/sdk/m2m"
	sdkpop "github.com/authgate/authgate/sdk/pop"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

type benchFlags struct {
	out         string
	duration    time.Duration
	warmup      time.Duration
	rawDuration time.Duration
	levels      []int
	schemes     []string
	cpuProfile  string // directory for per-level CPU profiles
	pairBare    bool   // measure the bare handler beside every scheme's level
	// from the configuration, as serve resolves it
	replayInMemory  bool
	replayMaxKeys   int
	readCacheMaxAge time.Duration
	gcHeapFloorMiB  int
	// the listener's limits and the chain's bounds, as serve applies them
	limits       httpapi.Limits
	maxInFlight  int
	maxBodyBytes int64
}

func newBenchCmd(g *globalFlags) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure every authentication scheme against a bare handler and its raw crypto",
		Long: `Start authgate in this process on loopback (SQLite in a temporary directory, or
the PostgreSQL named by --db, which must be a throwaway database: the bench
writes accounts, tokens and audit rows to it) behind serve's handler chain,
listener limits and metrics (access log off), provision the credentials
each scheme needs, and drive a closed-loop load at each concurrency level:

  bare          a bare net/http handler answering "ok" (the ceiling)
  bearer        GET behind oauth2 BearerAuth           raw: keyed hash + map lookup
  password      POST /oauth/token password grant       raw: keyed hash (HMAC-SHA256)
  tpv           TPV Signature on GET /api/v1/test/api  raw: HMAC-SHA256
  apstrata      Apstrata signed VerifyCredentials      raw: HMAC-SHA1
  wss           WS-Security SIMUsageGet over HTTPS     raw: RSA-2048 verify + sign
  pop           TAAP Bearer + PoP around the bare answer  raw: RS256 verify
  pop-device    TAAP Bearer + PoP on the device route  raw: RS256 verify

Each scheme's best throughput and its p50/p99 latency are reported next to
the bare handler's at the same concurrency and the raw operation's rate
measured in the same run. With --pair-bare (the default) each level of a
scheme is measured in slices alternating with the bare handler's (bare,
scheme, scheme, bare, twice), and "vs bare" is the scheme's best rate over
the best bare rate measured beside it: on a shared machine whose speed
drifts by tens of percent from one minute to the next, a ratio to a
baseline taken minutes earlier measures the drift as much as the scheme. Writes table.txt, results.json
and throughput.svg under --out. The load generator shares the machine with
the server. The replay cache follows the configuration as in serve (replay.mode: memory on
SQLite, database on PostgreSQL; AUTHGATE_REPLAY_MODE=database compares).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			f.replayInMemory, f.replayMaxKeys, f.readCacheMaxAge = cfg.ReplayInMemory(), cfg.Replay.MaxKeys, cfg.ReadCacheMaxAge
			f.gcHeapFloorMiB = cfg.GCHeapFloorMiB
			f.limits, f.maxInFlight, f.maxBodyBytes = cfg.HTTPLimits(), cfg.MaxInFlight, cfg.MaxBodyBytes
			return runBench(cmd.Context(), cfg.DB, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "bench-results", "directory for table.txt, results.json and throughput.svg")
	fl.DurationVar(&f.duration, "duration", 2*time.Second, "measured time per scheme and concurrency level")
	fl.DurationVar(&f.warmup, "warmup", 300*time.Millisecond, "unmeasured load before each level")
	fl.DurationVar(&f.rawDuration, "raw-duration", time.Second, "time spent measuring each raw crypto operation")
	fl.IntSliceVar(&f.levels, "concurrency", []int{1, 4, 16, 64}, "concurrency levels (concurrent closed-loop clients)")
	fl.BoolVar(&f.pairBare, "pair-bare", true, "measure the bare handler again beside each scheme's level, in alternating slices, and take each scheme's \"vs bare\" from those rates (a slower machine for a while then slows both alike)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of each measured level (load only, not the pre-signing) to DIR/<scheme>-c<N>.pprof, the bare handler's to DIR/bare-c<N>.pprof (with --pair-bare a scheme's profile includes the bare slices beside it)")
	fl.StringSliceVar(&f.schemes, "schemes", nil, "schemes to run (default all): "+strings.Join(benchNames(), ","))
	return cmd
}

// benchScheme is one scheme with the runner it needs (HTTPS schemes have
// their own client) and, for schemes whose client must sign with RSA, a
// pool of requests signed before each level so the load generator does not
// compete with the server for the CPU.
type benchScheme struct {
	bench.Scheme
	runner *bench.Runner
	refill func(c int, lastRPS float64) error
	// ranOut reports whether the last level used up the pre-signed pool
	// (the client then signed inline, competing with the server); the
	// level is repeated with refill's pool grown.
	ranOut func() bool
}

func runBench(ctx context.Context, dsn string, f *benchFlags, stdout, progress io.Writer) error {
	if len(f.levels) == 0 || f.duration <= 0 {
		return fmt.Errorf("need at least one concurrency level and a positive duration")
	}
	known := benchNames()
	for _, s := range f.schemes {
		if !slices.Contains(known, s) {
			return fmt.Errorf("unknown scheme %q: use %s", s, strings.Join(known, ","))
		}
	}
	tmp, err := os.MkdirTemp("", "authgate-bench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	backend := "sqlite"
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(tmp, "authgate.db")
	} else if strings.HasPrefix(dsn, "postgres") {
		backend = "postgresql"
	}
	log := slog.New(slog.DiscardHandler)
	// As serve tunes it: the bare handler runs in this process too.
	gc := gctune.Start(uint64(f.gcHeapFloorMiB)<<20, os.Getenv, log)
	defer gc.Stop()
	st, err := store.Open(ctx, dsn, tmp)
	if err != nil {
		return err
	}
	defer st.Close()
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		return err
	}
	keys, err := core.NewKeyring(master)
	if err != nil {
		return err
	}
	svc := core.NewServices(st, keys, core.SystemClock{}, log)
	if err := svc.CheckKeyring(ctx); err != nil {
		return fmt.Errorf("%w (authgate bench needs a throwaway database)", err)
	}
	useReadCache(svc, f.readCacheMaxAge)
	if err := useReplayMode(ctx, &svc, f.replayInMemory, f.replayMaxKeys, log); err != nil {
		return err
	}
	// As serve observes: every outcome counted into Prometheus and the
	// dashboard's per-minute counters, the store's latency timed.
	reg := prometheus.NewRegistry()
	rt := &runtime{log: log, svc: svc}
	registerTelemetry(rt, reg)
	svc = rt.svc
	replayCtx, stopReplay := context.WithCancel(ctx)
	replayDone := make(chan struct{})
	go func() { _ = svc.Replay.Run(replayCtx); close(replayDone) }()
	defer func() { stopReplay(); <-replayDone; closeReplay(svc, log) }()
	if svc.Replay.InMemory() {
		backend += ", replay cache in memory"
	} else {
		backend += ", replay cache in the database"
	}
	fmt.Fprintf(progress, "authgate bench: %s, levels %v, %v per level\n", backend, f.levels, f.duration)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := startBenchWorld(ctx, svc, log, tmp, f, reg)
	if err != nil {
		return err
	}
	maxConc := 1
	for _, c := range f.levels {
		maxConc = max(maxConc, c)
	}
	runner := &bench.Runner{Client: bench.NewClient(maxConc, nil), Duration: f.duration, Warmup: f.warmup, Progress: progress}
	schemes, err := w.schemes(ctx, runner, maxConc, f)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range f.schemes {
		want[s] = true
	}

	bareURL, stopBare, err := bench.BareServer()
	if err != nil {
		return err
	}
	defer stopBare()
	rep := bench.Report{Started: time.Now().UTC(), Machine: bench.MachineDescription(), Backend: backend, DurationSec: f.duration.Seconds()}
	fmt.Fprintln(progress, "bare net/http handler")
	rep.Baseline = bench.Result{Scheme: "bare"}
	bare := bench.GetScheme("bare", bareURL, nil)
	for _, c := range f.levels {
		stopProfile, err := startBenchProfile(f.cpuProfile, "bare", c)
		if err != nil {
			return err
		}
		rep.Baseline.Points = append(rep.Baseline.Points, runner.Load(ctx, bare, c))
		stopProfile()
	}
	for i, s := range schemes {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		fmt.Fprintf(progress, "[%d/%d] %s: raw %s ...", i+1, len(schemes), s.Name, s.RawName)
		res := bench.Result{Scheme: s.Name, RawName: s.RawName}
		if s.Raw != nil {
			if res.RawOps, err = bench.RawRate(s.Raw, f.rawDuration); err != nil {
				return fmt.Errorf("%s raw operation: %w", s.Name, err)
			}
		}
		fmt.Fprintf(progress, " %.0f/s\n", res.RawOps)
		rn := runner
		if s.runner != nil {
			rn = s.runner
		}
		last := 0.0
		for _, c := range f.levels {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var p bench.Point
			for attempt := 0; ; attempt++ {
				if s.refill != nil {
					if err := s.refill(c, last); err != nil {
						return err
					}
				}
				stopProfile, err := startBenchProfile(f.cpuProfile, s.Name, c)
				if err != nil {
					return err
				}
				if f.pairBare {
					p = rn.LoadPaired(ctx, s.Scheme, bare, c)
				} else {
					p = rn.Load(ctx, s.Scheme, c)
				}
				stopProfile()
				if s.ranOut == nil || !s.ranOut() || attempt == 2 {
					break
				}
				fmt.Fprintf(progress, "  %s c=%d: the pre-signed pool ran out; repeating with a larger one\n", s.Name, c)
			}
			if p.Errors > 0 && p.Requests == 0 {
				return fmt.Errorf("%s at concurrency %d: every request failed: %s", s.Name, c, p.FirstError)
			}
			res.Points = append(res.Points, p)
			last = p.RPS
		}
		rep.Results = append(rep.Results, res)
	}
	return writeBenchReport(rep, f.out, stdout)
}

// startBenchProfile profiles one measured level into dir (no-op without dir).
func startBenchProfile(dir, scheme string, c int) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-c%d.pprof", scheme, c)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}

func writeBenchReport(rep bench.Report, dir string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(io.Writer) error) error {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fn(fh); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	if err := write("table.txt", rep.WriteTable); err != nil {
		return err
	}
	if err := write("results.json", rep.WriteJSON); err != nil {
		return err
	}
	if err := write("throughput.svg", rep.WriteSVG); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s/{table.txt,results.json,throughput.svg}\n", dir)
	return nil
}

// benchWorld is the running server and the credentials provisioned on it.
type benchWorld struct {
	svc    core.Services
	url    string // main listener
	m2mURL string // M2M TA listener (HTTPS)
	m2m    *m2mBench
}

// benchRoutes serves the bare handler's answer behind BearerAuth and
// behind TAAP's PoP scheme, so the bearer and pop schemes measure the
// chain plus the scheme's checks and nothing else.
type benchRoutes struct {
	bearer *oauth2.BearerAuth
	pop    *taap.Module
}

const benchPoPPath = "/bench/pop"

func (b benchRoutes) Register(mux *http.ServeMux) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	mux.Handle("GET /bench/protected", b.bearer.Require(ok))
	mux.Handle("GET "+benchPoPPath, b.pop.RequirePoP(taap.DefaultConfig().ResourceParts, ok))
}

func serveOn(ctx context.Context, h http.Handler, tlsCfg *tls.Config, limits httpapi.Limits, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &httpapi.Server{Name: "bench", Handler: h, TLS: tlsCfg, Log: log, DrainTime: time.Second, Limits: limits}
	go func() { _ = srv.Serve(ctx, ln) }()
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String(), nil
}

// startBenchWorld serves the protocol adapters behind the real handler
// chain on loopback, with serve's limits and metrics (f, on reg) and the
// access log off, as in a tuned deployment.
func startBenchWorld(ctx context.Context, svc core.Services, log *slog.Logger, tmp string, f *benchFlags, reg *prometheus.Registry) (*benchWorld, error) {
	o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
	if err != nil {
		return nil, err
	}
	pop := taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))
	mods := []httpapi.Module{o, benchRoutes{bearer: o.Bearer(), pop: pop},
		tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(svc, httpapi.ClientAddr{})),
		apstrata.New(apstrata.DefaultConfig(), apstrata.DepsFrom(svc, httpapi.ClientAddr{})),
		pop,
	}
	opts := httpapi.Options{Log: log, Ready: svc.Store, AccessLog: httpapi.AccessLogOff, Registry: reg, Server: "main",
		MaxInFlight: f.maxInFlight, MaxBodyBytes: f.maxBodyBytes, Limits: f.limits}
	w := &benchWorld{svc: svc}
	if w.url, err = serveOn(ctx, httpapi.NewHandler(opts, mods...), nil, f.limits, log); err != nil {
		return nil, err
	}
	m2mOpts := opts // as serve labels an M2M TA listener's series
	m2mOpts.Server = "m2m-bench"
	if w.m2m, err = newM2MBench(ctx, svc); err != nil {
		return nil, fmt.Errorf("m2m: %w", err)
	}
	if w.m2mURL, err = serveOn(ctx, w.m2m.env.Handler(m2mOpts), w.m2m.env.TLSConfig(), f.limits, log); err != nil {
		return nil, err
	}
	return w, nil
}

func postForm(ctx context.Context, c *http.Client, u string, h http.Header, form string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
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

// benchCases are a family's cases in `authgate bench`: their names, in
// the order they run, and how they are provisioned on the bench world; or,
// for a family without one, why.
type benchCases struct {
	names []string
	build func(ctx context.Context, w *benchWorld, runner *bench.Runner, maxConc int, f *benchFlags) ([]benchScheme, error)
	none  string
}

// benchNames are every family's bench case names, in run order.
func benchNames() []string {
	var out []string
	for _, m := range members() {
		out = append(out, m.bench.names...)
	}
	return out
}

// schemes provisions every family's bench cases, in the order of the
// family list, and checks each family built the cases it declares.
func (w *benchWorld) schemes(ctx context.Context, runner *bench.Runner, maxConc int, f *benchFlags) ([]benchScheme, error) {
	var out []benchScheme
	for _, m := range members() {
		if m.bench.build == nil {
			continue
		}
		cases, err := m.bench.build(ctx, w, runner, maxConc, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		var names []string
		for _, c := range cases {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, m.bench.names) {
			return nil, fmt.Errorf("%s: bench cases %v, declared %v", m.Name, names, m.bench.names)
		}
		out = append(out, cases...)
	}
	return out, nil
}

// oauth2BenchCases: a bearer-protected answer and the password grant.
func oauth2BenchCases(ctx context.Context, w *benchWorld, runner *bench.Runner, _ int, _ *benchFlags) ([]benchScheme, error) {
	svc, hc := w.svc, runner.Client
	admin, err := svc.EnsureBootstrapAdmin(ctx)
	if err != nil {
		return nil, err
	}
	grant := url.Values{"grant_type": {"password"}, "username": {admin.Key}, "password": {admin.Secret}}.Encode()
	tokResp, err := postForm(ctx, hc, w.url+"/oauth/token", nil, grant)
	if err != nil {
		return nil, err
	}
	access, _ := tokResp["access_token"].(string)
	var out []benchScheme

	// bearer: raw is what a cached check costs, a keyed hash and a map read.
	known := map[string]bool{string(svc.Tokens.HashToken(access)): true}
	out = append(out, benchScheme{Scheme: bench.Scheme{
		Name: "bearer", Request: bench.GetScheme("", w.url+"/bench/protected", http.Header{"Authorization": {"Bearer " + access}}).Request,
		RawName: "keyed hash lookup", Raw: func() error {
			if !known[string(svc.Tokens.HashToken(access))] {
				return fmt.Errorf("token not found")
			}
			return nil
		}}})

	// password grant: raw is the keyed hash that verifies the secret.
	stored := svc.Keys.Hash("bench", admin.Secret)
	out = append(out, benchScheme{Scheme: bench.Scheme{
		Name: "password", RawName: "HMAC-SHA256 keyed hash",
		Request: func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url+"/oauth/token", strings.NewReader(grant))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return req, err
		},
		Raw: func() error {
			if !svc.Keys.VerifyHash("bench", admin.Secret, stored) {
				return fmt.Errorf("hash mismatch")
			}
			return nil
		}}})
	return out, nil
}

// tpvBenchCases: a brand logs in once; every request carries a fresh Signature.
func tpvBenchCases(ctx context.Context, w *benchWorld, runner *bench.Runner, _ int, _ *benchFlags) ([]benchScheme, error) {
	svc, hc := w.svc, runner.Client
	var out []benchScheme
	// TPV: a brand logs in once; every request carries a fresh Signature
	// (a sequence number in the query keeps each one unique).
	brand, err := tpv.CreateBrand(ctx, svc, "", "Bench Brand")
	if err != nil {
		return nil, err
	}
	login, err := postForm(ctx, hc, sdktpv.LoginURL(w.url, brand.ApplicationToken, brand.AppSecret, time.Now()), nil, "")
	if err != nil {
		return nil, err
	}
	authToken, _ := login["auth_token"].(string)
	var seq atomic.Int64
	sample := sdktpv.CanonicalRequest("GET", "/api/v1/test/api", "n=1", "1700000000", nil, authToken)
	out = append(out, benchScheme{Scheme: bench.Scheme{
		Name: "tpv", RawName: "HMAC-SHA256",
		Request: func(ctx context.Context) (*http.Request, error) {
			u, _ := url.Parse(w.url + "/api/v1/test/api?n=" + strconv.FormatInt(seq.Add(1), 10))
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			sig, err := sdktpv.RequestSignature(brand.AppSecret, "GET", u, ts, nil, authToken)
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err == nil {
				req.Header.Set("Authorization", authToken)
				req.Header.Set(sdktpv.HeaderTimestamp, ts)
				req.Header.Set(sdktpv.HeaderSignature, sig)
			}
			return req, err
		},
		Raw: func() error { return macOnce(sha256.New, brand.AppSecret, sample) }}})
	return out, nil
}

// apstrataBenchCases: the account owner signs VerifyCredentials.
func apstrataBenchCases(ctx context.Context, w *benchWorld, _ *bench.Runner, _ int, _ *benchFlags) ([]benchScheme, error) {
	svc := w.svc
	var out []benchScheme
	// Apstrata: the owner signs VerifyCredentials. apsws.time in
	// milliseconds (the Java SDK's habit), made unique per request because
	// each signature is accepted once.
	acct, err := apstrata.CreateAccount(ctx, svc, "Bench Account")
	if err != nil {
		return nil, err
	}
	var lastMS atomic.Int64
	aps := &sdkaps.Client{ServiceURL: w.url + "/apsdb/rest", AuthKey: acct.AuthKey, Secret: acct.Secret, Flavor: sdkaps.Java,
		Now: func() time.Time {
			for {
				last, now := lastMS.Load(), time.Now().UnixMilli()
				next := max(now, last+1)
				if lastMS.CompareAndSwap(last, next) {
					return time.UnixMilli(next)
				}
			}
		}}
	apsSample := "POST\n" + sdkaps.Encode(w.url+"/apsdb/rest/"+acct.AuthKey+"/VerifyCredentials") + "\napsws.time=1700000000000"
	out = append(out, benchScheme{Scheme: bench.Scheme{
		Name: "apstrata", RawName: "HMAC-SHA1",
		Request: func(ctx context.Context) (*http.Request, error) {
			params := url.Values{}
			aps.Sign(http.MethodPost, "VerifyCredentials", params)
			return aps.Request(ctx, http.MethodPost, "VerifyCredentials", params, nil)
		},
		Raw: func() error { return macOnce(sha1.New, acct.Secret, apsSample) }}})
	return out, nil
}

// m2mBenchCases: WS-Security SIMUsageGet on the TA listener.
func m2mBenchCases(_ context.Context, w *benchWorld, runner *bench.Runner, maxConc int, f *benchFlags) ([]benchScheme, error) {
	var out []benchScheme
	// WS-Security: SIMUsageGet over HTTPS; requests are signed ahead of
	// each level. Raw: the server's RSA work per request (verify the
	// request, sign the answer).
	mb := w.m2m
	m2mRunner := &bench.Runner{Client: bench.NewClient(maxConc, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: mb.roots}}),
		Duration: f.duration, Warmup: f.warmup, Progress: runner.Progress}
	wssPool := &presigned[[]byte]{sign: mb.sign}
	out = append(out, benchScheme{runner: m2mRunner,
		refill: func(c int, _ float64) error {
			// Enough for the level at the best rate RSA allows on this machine.
			n := int(float64(mb.estimate(f.rawDuration)) * (f.duration + f.warmup).Seconds() * 1.2)
			return wssPool.fill(max(n, 4*c))
		},
		Scheme: bench.Scheme{
			Name: "wss", RawName: "RSA-2048 verify+sign",
			Request: func(ctx context.Context) (*http.Request, error) {
				env, err := wssPool.take()
				if err != nil {
					return nil, err
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.m2mURL+m2m.PathMon, strings.NewReader(string(env)))
				if err == nil {
					req.Header.Set("Content-Type", "text/xml; charset=utf-8")
				}
				return req, err
			},
			Raw: mb.raw,
		}})
	return out, nil
}

// taapBenchCases: Bearer + PoP on the bare answer and on the device resource.
func taapBenchCases(ctx context.Context, w *benchWorld, runner *bench.Runner, _ int, f *benchFlags) ([]benchScheme, error) {
	return w.popSchemes(ctx, runner.Client, f)
}

// popSchemes registers a TAAP client with an RSA key, gets an access token
// through the TAAP token endpoint, and loads, with Bearer plus a fresh PoP
// token (unique jti) per request, the bare answer behind the PoP scheme
// (pop) and the demo device resource, which also reads the SIM record
// (pop-device). PoP tokens are signed ahead of each level (RS256 signing
// is the client's cost, not the server's); the raw operation is the
// server's RS256 verification.
func (w *benchWorld) popSchemes(ctx context.Context, hc *http.Client, f *benchFlags) ([]benchScheme, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	info, err := taap.CreateClient(ctx, w.svc, taap.ClientSpec{Name: "bench", PublicKeys: [][]byte{sdkpop.PublicKeyPEM(key)}})
	if err != nil {
		return nil, err
	}
	const iccid = "8901260000000000006"
	if _, err := taap.AddSIM(ctx, w.svc, info.OrgID, taap.SIM{ICCID: iccid}); err != nil {
		return nil, err
	}
	pc := &sdkpop.Client{BaseURL: w.url, ClientID: info.ClientID, ClientSecret: info.ClientSecret, Builder: &sdkpop.Builder{Key: key}, HTTP: hc}
	tr, err := pc.Token(ctx)
	if err != nil {
		return nil, err
	}
	devicePath := strings.Replace(taap.RouteDevice, "{iccid}", iccid, 1)
	digest := sha256.Sum256([]byte("pop"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, err
	}
	raw := func() error { return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig) }
	return []benchScheme{w.popScheme("pop", benchPoPPath, pc, tr.AccessToken, f, raw),
		w.popScheme("pop-device", devicePath, pc, tr.AccessToken, f, raw)}, nil
}

// popScheme loads path with Bearer access plus a pre-signed PoP token.
func (w *benchWorld) popScheme(name, path string, pc *sdkpop.Client, access string, f *benchFlags, raw func() error) benchScheme {
	pool := &presigned[string]{sign: func() (string, error) {
		req, err := pc.NewRequest(context.Background(), http.MethodGet, path, nil, access)
		if err != nil {
			return "", err
		}
		return req.Header.Get(sdkpop.Header), nil
	}}
	return benchScheme{
		refill: func(c int, lastRPS float64) error {
			secs := (f.duration + f.warmup).Seconds()
			// First level: a guess; later ones: twice the last level's rate
			// (more concurrency may go faster), or the rate at which the
			// last pool ran out. At most ~250k tokens, about a minute of
			// signing on 2 cores, so the first stay inside their 120 s life.
			return pool.fill(min(max(int(max(2*lastRPS, 1.3*pool.rate, 8000)*secs), 4*c), 250_000))
		},
		ranOut: pool.ranOut,
		Scheme: bench.Scheme{
			Name: name, RawName: "RS256 verify",
			Request: func(ctx context.Context) (*http.Request, error) {
				tok, err := pool.take()
				if err != nil {
					return nil, err
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url+path, nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+access)
					req.Header.Set(sdkpop.Header, tok)
				}
				return req, err
			},
			Raw: raw,
		}}
}

// presigned is a pool of requests (or tokens) signed before a level on
// every core, so the load generator does not compete with the server for
// RSA during it. take signs inline when the pool is empty and notes when
// that first happened; ranOut reports it and keeps the rate at which the
// pool emptied.
type presigned[T any] struct {
	sign     func() (T, error)
	pool     chan T
	size     int
	ready    time.Time
	ranOutAt atomic.Int64 // Unix ns of the first take the pool could not serve
	rate     float64      // req/s at which the last pool ran out
}

// maxFill bounds the signing before a level: PoP tokens live 120 s, and
// on a loaded machine signing the whole pool could take longer than that
// (the level would then send expired tokens). A pool cut short runs out
// and the level is repeated with what the rate allows.
const maxFill = 45 * time.Second

func (p *presigned[T]) fill(n int) error {
	procs := goruntime.GOMAXPROCS(0)
	parts := make([][]T, procs)
	deadline := time.Now().Add(maxFill)
	var g errgroup.Group
	for w := range procs {
		g.Go(func() error {
			for i := w; i < n && time.Now().Before(deadline); i += procs {
				v, err := p.sign()
				if err != nil {
					return err
				}
				parts[w] = append(parts[w], v)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	size := 0
	for _, part := range parts {
		size += len(part)
	}
	p.pool, p.size = make(chan T, size), size
	for _, part := range parts {
		for _, v := range part {
			p.pool <- v
		}
	}
	p.ranOutAt.Store(0)
	p.ready = time.Now()
	return nil
}

func (p *presigned[T]) take() (T, error) {
	select {
	case v := <-p.pool:
		return v, nil
	default: // pool exhausted: sign now (slower, but still correct)
		p.ranOutAt.CompareAndSwap(0, time.Now().UnixNano())
		return p.sign()
	}
}

func (p *presigned[T]) ranOut() bool {
	at := p.ranOutAt.Load()
	if at == 0 {
		return false
	}
	if d := time.Unix(0, at).Sub(p.ready).Seconds(); d > 0 {
		p.rate = float64(p.size) / d
	}
	return true
}

func macOnce(h func() hash.Hash, key, msg string) error {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	if len(m.Sum(nil)) == 0 {
		return fmt.Errorf("empty MAC")
	}
	return nil
}

// m2mBench is a TA environment with one partner, its API key and a SIM.
type m2mBench struct {
	env     *m2m.Env
	roots   *x509.CertPool
	signer  *wssec.Signer
	payload []byte
	pKey    *rsa.PrivateKey
	rawSig  []byte
	digest  [32]byte
	rate    float64
}

func newM2MBench(ctx context.Context, svc core.Services) (*m2mBench, error) {
	now := time.Now()
	ca, caKey, err := benchCert(nil, nil, "authgate bench CA", "", now, true, nil)
	if err != nil {
		return nil, err
	}
	issue := func(cn, ou string, ku x509.KeyUsage, eku x509.ExtKeyUsage, ips []net.IP) (*x509.Certificate, *rsa.PrivateKey, error) {
		return benchCert(ca, caKey, cn, ou, now, false, func(t *x509.Certificate) {
			t.KeyUsage, t.ExtKeyUsage, t.IPAddresses = ku, []x509.ExtKeyUsage{eku}, ips
		})
	}
	tlsCert, tlsKey, err := issue("m2m-ta.bench", "", x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	platCert, platKey, err := issue("signing.m2m-ta.bench", "M2M_TA", x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, err
	}
	pCert, pKey, err := issue("partner.bench", "M2M_TA", x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	mat := m2m.Material{
		TLS:        tls.Certificate{Certificate: [][]byte{tlsCert.Raw}, PrivateKey: tlsKey},
		SigningKey: platKey, SigningCert: platCert, TrustedCAs: roots, CallbackCAs: roots,
		Partners: []m2m.Partner{{Name: "bench", SigningCerts: []*x509.Certificate{pCert},
			AdmClURL: "https://127.0.0.1:9/M2MAdmCl", MonClURL: "https://127.0.0.1:9/M2MMonCl"}},
	}
	deps := m2m.DepsFrom(svc, httpapi.ClientAddr{})
	env, err := m2m.NewEnv(ctx, m2m.EnvTA, m2m.DefaultConfig(), mat, deps)
	if err != nil {
		return nil, err
	}
	apiKey, err := m2m.CreateAPIKey(ctx, deps, m2m.EnvTA, "bench")
	if err != nil {
		return nil, err
	}
	const iccid = "8949020000000000017"
	if _, err := m2m.AddSIM(ctx, deps, m2m.EnvTA, "bench", iccid, "M2M_BASIC"); err != nil {
		return nil, err
	}
	if _, err := m2m.RecordUsage(ctx, deps, m2m.EnvTA, iccid, 1<<20, 3, 60); err != nil {
		return nil, err
	}
	signer, err := wssec.NewSigner(pKey, pCert, wssec.SignerOptions{})
	if err != nil {
		return nil, err
	}
	payload, err := xml.Marshal(sdkm2m.SIMUsageGet{M2MApiKey: apiKey, ICCID: iccid})
	if err != nil {
		return nil, err
	}
	mb := &m2mBench{env: env, roots: roots, signer: signer, payload: payload, pKey: pKey, digest: sha256.Sum256(payload)}
	if mb.rawSig, err = rsa.SignPKCS1v15(rand.Reader, pKey, crypto.SHA256, mb.digest[:]); err != nil {
		return nil, err
	}
	return mb, nil
}

func (m *m2mBench) sign() ([]byte, error) { return m.signer.Sign(m.payload) }

// raw is the server's RSA work for one SIMUsageGet: verify the request's
// signature and sign the answer.
func (m *m2mBench) raw() error {
	if err := rsa.VerifyPKCS1v15(&m.pKey.PublicKey, crypto.SHA256, m.digest[:], m.rawSig); err != nil {
		return err
	}
	_, err := rsa.SignPKCS1v15(rand.Reader, m.pKey, crypto.SHA256, m.digest[:])
	return err
}

// estimate returns the raw RSA rate (measured once), which bounds the rate
// the server can reach.
func (m *m2mBench) estimate(d time.Duration) float64 {
	if m.rate == 0 {
		m.rate, _ = bench.RawRate(m.raw, d/2)
		m.rate = max(m.rate, 100)
	}
	return m.rate
}

// benchCert makes an RSA-2048 certificate: a self-signed CA when parent is
// nil, else a leaf signed by parent, adjusted by tweak.
func benchCert(parent *x509.Certificate, parentKey *rsa.PrivateKey, cn, ou string, now time.Time, isCA bool, tweak func(*x509.Certificate)) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"authgate bench"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true,
	}
	if ou != "" {
		tmpl.Subject.OrganizationalUnit = []string{ou}
	}
	if isCA {
		tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign
		parent, parentKey = tmpl, key
	}
	if tweak != nil {
		tweak(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}
