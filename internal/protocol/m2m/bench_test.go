package m2m_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/xml"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/m2m"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// BenchmarkSIMUsageGet measures, in one run, side by side:
//   - rsa_verify: raw RSA-2048 PKCS#1 v1.5 verifications per second;
//   - rsa_sign: raw RSA-2048 signatures per second (every answer costs one);
//   - server: pre-signed SIMUsageGet requests verified and answered (signed)
//     per second over HTTPS, the answers verified by the client;
//   - roundtrip: the same with the client signing each request in the loop.
//
// Each request carries a fresh signature, so the replay cache, the
// M2MApiKey check and the SIM lookup run as in production (SQLite).
func BenchmarkSIMUsageGet(b *testing.B) {
	w := newWorld(b, worldOptions{})
	key := w.pKey
	digest := sha256.Sum256([]byte("benchmark"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	b.Run("rsa_verify", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	})
	b.Run("rsa_sign", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
	})
	payload, _ := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: iccid})
	ctx := context.Background()
	b.Run("server", func(b *testing.B) {
		b.StopTimer()
		reqs := make([][]byte, b.N)
		for i := range reqs {
			reqs[i], _ = w.client.Signer.Sign(payload)
		}
		var next atomic.Int64
		b.StartTimer()
		start := time.Now()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				raw, err := w.client.Post(ctx, m2m.PathMon, reqs[next.Add(1)-1])
				if err != nil {
					b.Fatal(err)
				}
				var out sdk.SIMUsageResponse
				if err := w.client.Decode(raw, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
	})
	b.Run("roundtrip", func(b *testing.B) {
		start := time.Now()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := w.client.SIMUsageGet(ctx, iccid); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "roundtrips/s")
	})
}
