package oauth2_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/bench"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// BenchmarkHTTP measures, over HTTP on loopback in one run: a bare net/http
// handler, the password grant (tokens issued per second), and a
// bearer-protected GET, so the ratios survive a noisy shared machine.
// Client and server share the machine's cores. Run with e.g.
//
//	go test ./internal/protocol/oauth2 -run - -bench HTTP -benchtime 3s -cpu 2
func BenchmarkHTTP(b *testing.B) {
	bareURL, stop, err := bench.BareServer()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	b.Run("bare", func(b *testing.B) { loadGET(b, bareURL, "") })
	for name, opt := range benchBackends(b) {
		e := agtest.Start(b, opt, func(svc core.Services) []httpapi.Module {
			m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return []httpapi.Module{m, okRoutes{m.Bearer()}}
		})
		Form := url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode()
		b.Run("password-grant-"+name, func(b *testing.B) { loadPOST(b, e.URL+"/oauth/token", Form) })
		tok := passwordToken(b, e.URL, Form)
		// The same "ok" handler as bare, behind authgate's handler chain,
		// without and with BearerAuth: the cost of the chain and of the check.
		b.Run("chain-get-"+name, func(b *testing.B) { loadGET(b, e.URL+"/bench/open", "") })
		b.Run("bearer-get-"+name, func(b *testing.B) { loadGET(b, e.URL+"/bench/protected", tok) })
		b.Run("accesskey-get-"+name, func(b *testing.B) { loadGET(b, e.URL+"/accesskeys/"+e.Admin.Key, tok) })
	}
}

// okRoutes serves the bare handler's answer behind the chain, open and
// bearer-protected.
type okRoutes struct{ bearer *oauth2.BearerAuth }

func (o okRoutes) Register(mux *http.ServeMux) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	mux.Handle("GET /bench/open", ok)
	mux.Handle("GET /bench/protected", o.bearer.Require(ok))
}

// BenchmarkVersusBare alternates short rounds of the bare handler and of
// one authgate scheme (each round: 32 concurrent clients x 8 requests), so
// both see the same machine load; it reports both rates and their ratio.
// One iteration is one pair of rounds.
func BenchmarkVersusBare(b *testing.B) {
	bareURL, stop, err := bench.BareServer()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	bare := func() (int, error) {
		req, _ := http.NewRequest(http.MethodGet, bareURL, nil)
		return send(req)
	}
	for name, opt := range benchBackends(b) {
		e := agtest.Start(b, opt, func(svc core.Services) []httpapi.Module {
			m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return []httpapi.Module{m, okRoutes{m.Bearer()}}
		})
		Form := url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode()
		tok := passwordToken(b, e.URL, Form)
		schemes := map[string]func() (int, error){
			"password-grant": func() (int, error) {
				req, _ := http.NewRequest(http.MethodPost, e.URL+"/oauth/token", strings.NewReader(Form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return send(req)
			},
			"chain-get": func() (int, error) {
				req, _ := http.NewRequest(http.MethodGet, e.URL+"/bench/open", nil)
				return send(req)
			},
			"bearer-get": func() (int, error) {
				req, _ := http.NewRequest(http.MethodGet, e.URL+"/bench/protected", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				return send(req)
			},
		}
		for sname, scheme := range schemes {
			b.Run(sname+"-"+name, func(b *testing.B) {
				var bareTime, schemeTime time.Duration
				var bareN, schemeN int
				for range b.N {
					d, n := round(b, bare)
					bareTime, bareN = bareTime+d, bareN+n
					d, n = round(b, scheme)
					schemeTime, schemeN = schemeTime+d, schemeN+n
				}
				bareRate := float64(bareN) / bareTime.Seconds()
				rate := float64(schemeN) / schemeTime.Seconds()
				b.ReportMetric(bareRate, "bare-req/s")
				b.ReportMetric(rate, "req/s")
				b.ReportMetric(100*rate/bareRate, "%-of-bare")
			})
		}
	}
}

// round runs 32 clients x 8 requests and returns the wall time and count.
func round(b *testing.B, do func() (int, error)) (time.Duration, int) {
	const clients, each = 32, 8
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if status, err := do(); err != nil || status != http.StatusOK {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	return time.Since(start), clients * each
}

// benchBackends is SQLite, plus PostgreSQL when a server is configured.
func benchBackends(b *testing.B) map[string]agtest.Options {
	m := map[string]agtest.Options{"sqlite": {}}
	if os.Getenv("AUTHGATE_TEST_POSTGRES") != "" {
		m["postgres"] = agtest.Options{PostgresDSN: pgtest.DSN(b)}
	}
	return m
}

var benchClient = bench.NewClient(256, nil)

// adminBench starts a server with the oauth2 module on the default
// options and returns the module, the server and a bootstrap admin's
// access token (password grant).
func adminBench(b *testing.B) (*oauth2.Module, *agtest.Env, string) {
	var m *oauth2.Module
	e := agtest.Start(b, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		var err error
		if m, err = oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{}); err != nil {
			b.Fatal(err)
		}
		return []httpapi.Module{m}
	})
	return m, e, passwordToken(b, e.URL, url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode())
}

func passwordToken(b *testing.B, base, Form string) string {
	res, err := http.Post(base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(Form))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	s := string(body)
	i := strings.Index(s, `"access_token":"`)
	if res.StatusCode != 200 || i < 0 {
		b.Fatalf("token: %d %s", res.StatusCode, body)
	}
	s = s[i+len(`"access_token":"`):]
	return s[:strings.IndexByte(s, '"')]
}

// run drives do from 32 goroutines per CPU and reports requests per second.
func run(b *testing.B, do func() (int, error)) {
	var failures atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, err := do()
			if err != nil || status != http.StatusOK {
				failures.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
}

func loadGET(b *testing.B, u, token string) {
	run(b, func() (int, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(req)
	})
}

func loadPOST(b *testing.B, u, Form string) {
	run(b, func() (int, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(Form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return send(req)
	})
}

func send(req *http.Request) (int, error) {
	res, err := benchClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}
