package tpv_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// bareModule is the baseline: a handler behind the same chain that
// authenticates nothing and answers like the TPV routes do.
type bareModule struct{}

func (bareModule) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"success": "ok"})
	})
}

// BenchmarkVerifyOverHTTP compares, in one run and over loopback HTTP,
// a bare handler with token-only and fully signed TPV requests (token
// lookup, secret unseal, HMAC, replay insert, brand load). Each signed
// request is distinct (its query carries a counter), as real traffic is.
func BenchmarkVerifyOverHTTP(b *testing.B) {
	cfg := tpv.DefaultConfig()
	cfg.SignatureOptional = []string{tpv.RouteTestAPI}
	env := agtest.Start(b, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{bareModule{}, tpv.New(cfg, tpv.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	brand, err := tpv.CreateBrand(context.Background(), env.Svc, "", "Bench Brand")
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	client := &sdk.Client{BaseURL: env.URL, AppToken: brand.ApplicationToken, AppSecret: brand.AppSecret, HTTP: hc}
	tok, err := client.Login(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	run := func(b *testing.B, do func() error) {
		b.ReportAllocs()
		b.SetParallelism(4)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := do(); err != nil {
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
			return &sdk.Error{Status: resp.StatusCode}
		}
		return nil
	}
	b.Run("bare", func(b *testing.B) {
		run(b, func() error {
			req, _ := http.NewRequest("GET", env.URL+"/bare", nil)
			return get(req)
		})
	})
	b.Run("token-only", func(b *testing.B) {
		run(b, func() error {
			req, _ := http.NewRequest("GET", env.URL+"/api/v1/test/api", nil)
			req.Header.Set("Authorization", tok)
			return get(req)
		})
	})
	b.Run("signed", func(b *testing.B) {
		run(b, func() error {
			_, err := client.TestAPI(context.Background(), url.Values{"n": {strconv.FormatInt(n.Add(1), 10)}})
			return err
		})
	})
}
