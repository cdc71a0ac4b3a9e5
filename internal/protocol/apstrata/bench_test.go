package apstrata_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the protocol's signature
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// BenchmarkVerifyOverHTTP measures signed VerifyCredentials calls (default
// signature, replay-checked, over loopback HTTP) next to a bare handler and
// raw HMAC-SHA1 in the same run. Compare the ns/op of the sub-benchmarks.
func BenchmarkVerifyOverHTTP(b *testing.B) {
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer bare.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	b.Run("bare", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := hc.Get(bare.URL)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})

	e := newEnv(b, false, nil)
	var n atomic.Int64
	b.Run("signed", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			c := e.user(sdk.PHP)
			c.HTTP = hc
			c.Now = e.Clock.Now // the server runs on the test clock
			for pb.Next() {
				// A distinct parameter per call: each signature is accepted once.
				if _, err := c.Call(context.Background(), http.MethodGet, "VerifyCredentials", url.Values{"n": {strconv.FormatInt(n.Add(1), 10)}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("raw-hmac-sha1", func(b *testing.B) {
		key := []byte(sdk.PasswordKey("password"))
		msg := []byte("GET\nhttps%3A%2F%2Fhost%2Fapsdb%2Frest%2FK%2FVerifyCredentials\napsws.time=1700000000&apsws.user=jane&n=1")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m := hmac.New(sha1.New, key)
				m.Write(msg)
				m.Sum(nil)
			}
		})
	})
}
