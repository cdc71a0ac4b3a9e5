package taap_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/sdk/pop"
)

// bareModule is the baseline: a handler behind the same chain that
// authenticates nothing.
type bareModule struct{}

func (bareModule) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"iccid": "bare"})
	})
}

// BenchmarkPoP compares, in one run: a bare handler over HTTP, the
// PoP-protected device resource over HTTP (access token lookup, client
// keys, RS256 verify, edts, replay insert, SIM read), and raw RS256
// verifications. PoP tokens are signed before the timer starts (signing
// is the client's cost, ~30x a verification); each is distinct, as real
// traffic is. Target: pop >= 50% of min(bare, rs256-verify).
func BenchmarkPoP(b *testing.B) {
	env := agtest.Start(b, agtest.Options{ManualClock: time.Now()}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{bareModule{}, taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))}
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
	b.Run("pop", func(b *testing.B) {
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
