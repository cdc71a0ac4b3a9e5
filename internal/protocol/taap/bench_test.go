package taap_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	"github.com/authgate/authgate/sdk/pop"
)

// bareModule is the baseline: a handler behind the same chain that
// authenticates nothing, and the same handler behind the PoP scheme
// (RequirePoP) when pop is set.
type bareModule struct{ pop, popDB *taap.Module }

func bareHandler(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"iccid": "bare"})
}

func (m bareModule) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /bare", bareHandler)
	if m.pop != nil {
		mux.Handle("GET /pop-bare", m.pop.RequirePoP(taap.DefaultConfig().ResourceParts, http.HandlerFunc(bareHandler)))
	}
	if m.popDB != nil {
		mux.Handle("GET /pop-bare-db", m.popDB.RequirePoP(taap.DefaultConfig().ResourceParts, http.HandlerFunc(bareHandler)))
	}
}

// BenchmarkPoP compares, in one run: a bare handler over HTTP; the same
// handler behind the PoP scheme (pop-scheme: access token lookup, client
// keys, RS256 verify, edts, jti through the replay cache as serve wires
// it for the backend: in memory, written behind, on SQLite; in the
// database on PostgreSQL); the PoP-protected device resource (pop-device:
// the scheme plus the SIM record read from the store); and raw RS256
// verifications. PoP tokens are signed before the timer starts (signing
// is the client's cost, ~30x a verification); each is distinct, as real
// traffic is. Target: pop-scheme >= 50% of min(bare, rs256-verify).
//
// pop-scheme-dbreplay is the scheme with every jti inserted in the store
// (replay.mode database, what nodes sharing PostgreSQL use), to show the
// replay store's share.
func BenchmarkPoP(b *testing.B) { benchPoP(b, agtest.Options{}) }

// BenchmarkPoPPostgres is BenchmarkPoP on PostgreSQL (AUTHGATE_TEST_POSTGRES).
func BenchmarkPoPPostgres(b *testing.B) { benchPoP(b, agtest.Options{PostgresDSN: pgtest.DSN(b)}) }

func benchPoP(b *testing.B, opts agtest.Options) {
	opts.ManualClock = time.Now()
	ctx, stop := context.WithCancel(context.Background())
	b.Cleanup(stop)
	env := agtest.Start(b, opts, func(svc core.Services) []httpapi.Module {
		dbDeps := taap.DepsFrom(svc, httpapi.ClientAddr{})
		if opts.PostgresDSN == "" { // as serve does on SQLite
			r, err := core.OpenMemoryReplay(ctx, svc.Store, svc.Clock, core.MemoryReplayOptions{})
			if err != nil {
				b.Fatal(err)
			}
			go r.Run(ctx)
			svc.Replay = r
		}
		m := taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{bareModule{pop: m, popDB: taap.New(taap.DefaultConfig(), dbDeps)}, m}
	})
	key := testKeys()[0]
	info, iccid, err := taap.ProvisionDemo(context.Background(), env.Svc, "bench client", pop.PublicKeyPEM(key))
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	client := &pop.Client{BaseURL: env.URL, ClientID: info.ClientID, ClientSecret: info.ClientSecret, HTTP: hc, Builder: &pop.Builder{Key: key, Now: env.Clock.Now}}
	tr, err := client.Token(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, do func(i int) error) {
		b.ReportAllocs()
		b.SetParallelism(16)
		var next atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := do(int(next.Add(1) - 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	}
	get := func(req *http.Request) error {
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		// Drain before closing, or the transport drops the connection
		// and every request pays a new TCP handshake.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &pop.Error{Status: resp.StatusCode}
		}
		return nil
	}
	b.Run("bare", func(b *testing.B) {
		run(b, func(int) error {
			req, _ := http.NewRequest("GET", env.URL+"/bare", nil)
			return get(req)
		})
	})
	b.Run("pop-scheme", func(b *testing.B) {
		reqs := presign(b, client, "/pop-bare", tr.AccessToken)
		b.ResetTimer()
		run(b, func(i int) error { return get(reqs[i]) })
	})
	b.Run("pop-scheme-dbreplay", func(b *testing.B) {
		reqs := presign(b, client, "/pop-bare-db", tr.AccessToken)
		b.ResetTimer()
		run(b, func(i int) error { return get(reqs[i]) })
	})
	b.Run("pop-device", func(b *testing.B) {
		reqs := presign(b, client, "/iot-connectivity/v1/devices/"+iccid, tr.AccessToken)
		b.ResetTimer()
		run(b, func(i int) error { return get(reqs[i]) })
	})
	b.Run("rs256-verify", func(b *testing.B) {
		req, _ := client.NewRequest(context.Background(), "GET", "/x", nil, tr.AccessToken)
		tok := req.Header.Get(pop.Header)
		dot := len(tok) - 343 // 256-byte signature = 342 base64url chars + the dot
		input, sig := tok[:dot], mustB64(b, tok[dot+1:])
		run(b, func(int) error {
			sum := sha256.Sum256([]byte(input))
			return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig)
		})
	})
}

// presign builds b.N distinct signed requests on every core.
func presign(b *testing.B, c *pop.Client, path, access string) []*http.Request {
	reqs := make([]*http.Request, b.N)
	var wg sync.WaitGroup
	workers := 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += workers {
				r, err := c.NewRequest(context.Background(), "GET", path, nil, access)
				if err != nil {
					b.Error(err)
					return
				}
				reqs[i] = r
			}
		}()
	}
	wg.Wait()
	return reqs
}

func mustB64(b *testing.B, s string) []byte {
	out, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkVerify is the scheme without HTTP: Verifier.Verify (parse,
// RS256, time checks, edts, replay insert through core.Replay on the
// test store) on distinct pre-signed tokens.
func BenchmarkVerify(b *testing.B) {
	env := agtest.Start(b, agtest.Options{ManualClock: time.Now()}, func(core.Services) []httpapi.Module { return nil })
	key := testKeys()[0]
	cfg := taap.DefaultConfig()
	v := taap.NewVerifier(taap.VerifierConfig{Algorithms: cfg.Algorithms, Skew: cfg.ClockSkew, MaxLifetime: cfg.MaxLifetime}, env.Svc.Replay, env.Clock)
	s := taap.Signed{Method: "GET", URI: "/x", Header: http.Header{"Authorization": {"Bearer t"}}}
	builder := &pop.Builder{Key: key, Now: env.Clock.Now}
	toks := make([]string, b.N)
	for i := range toks {
		var err error
		if toks[i], err = builder.Build([]pop.Part{{Name: "Authorization", Value: "Bearer t"}, {Name: pop.URI, Value: "/x"}, {Name: pop.Method, Value: "GET"}, {Name: pop.Body}}); err != nil {
			b.Fatal(err)
		}
	}
	keys := []*rsa.PublicKey{&key.PublicKey}
	req := taap.Required(cfg.ResourceParts, s)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // as many verifications in flight as BenchmarkPoP has requests
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), taap.Input{Token: toks[next.Add(1)-1], Request: s, Keys: keys, Required: req, Scope: "c"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifies/s")
}
