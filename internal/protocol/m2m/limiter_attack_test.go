package m2m_test

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	"github.com/authgate/authgate/internal/wssec"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestAttack_M2MAPIKeyGuessingLimited: a partner (or whoever holds a
// partner's signing key) guessing the secret part of an M2MApiKey used to
// get "invalid M2MApiKey" without limit. Now the guesses of one key
// answered from one address are bounded (10 per 5 minutes by default),
// then a SOAP Fault with detail RateLimitExceeded and Retry-After, also
// for the right key, audited; from another address the right key works.
func TestAttack_M2MAPIKeyGuessingLimited(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": func(testing.TB) string { return "" }, "postgres": pgtest.DSN} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, worldOptions{postgres: dsn(t), deps: func(_ *world, d *m2m.Deps) {
				d.ClientAddr = httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
			}})
			signer, err := wssec.NewSigner(w.pKey, w.pCert, wssec.SignerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			post := func(apiKey, addr string) (*sdk.Fault, string) {
				req, _ := http.NewRequest(http.MethodPost, w.srv.URL+m2m.PathMon, bytes.NewReader(w.signedUsageGet(t, signer, apiKey)))
				req.Header.Set("Content-Type", "text/xml; charset=utf-8")
				req.Header.Set("X-Forwarded-For", addr)
				res, err := w.http.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode == http.StatusOK {
					return nil, ""
				}
				f := sdk.ParseFault(body)
				if f == nil {
					t.Fatalf("HTTP %d, no fault: %s", res.StatusCode, body)
				}
				return f, res.Header.Get("Retry-After")
			}
			const attacker = "203.0.113.30"
			limit := core.DefaultGuardLimits().Pair
			lookup, _, _ := strings.Cut(w.apiKey, ".")
			answered := 0
			for i := range 3 * limit {
				f, retry := post(lookup+".guess-"+strconv.Itoa(i), attacker)
				switch {
				case f == nil:
					t.Fatalf("guess %d accepted", i)
				case f.Code == sdk.FaultClient && f.Detail == sdk.ErrInvalidAPIKey:
					answered++
				case f.Code == sdk.FaultClient && f.Detail == "RateLimitExceeded" && retry != "":
				default:
					t.Fatalf("guess %d: fault %q/%q (%s), Retry-After %q", i, f.Code, f.Detail, f.String, retry)
				}
			}
			if answered != limit {
				t.Fatalf("%d of %d guesses answered, want the limit %d", answered, 3*limit, limit)
			}
			if f, _ := post(w.apiKey, attacker); f == nil || f.Detail != "RateLimitExceeded" {
				t.Fatalf("right key from the guessing address: %+v", f)
			}
			if f, _ := post(w.apiKey, "198.51.100.30"); f != nil {
				t.Fatalf("right key from the partner's address: %q/%q (%s)", f.Code, f.Detail, f.String)
			}
			events, err := w.svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "m2m"})
			if err != nil {
				t.Fatal(err)
			}
			limited := 0
			for _, ev := range events {
				if strings.Contains(ev.Reason, "too many failed authentications") && ev.RemoteAddr == attacker {
					limited++
				}
			}
			if want := 2*limit + 1; limited != want {
				t.Fatalf("audited rate-limited failures: %d, want %d", limited, want)
			}
		})
	}
}
