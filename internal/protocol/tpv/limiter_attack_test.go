package tpv_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// TestAttack_TPVLoginGuessingLimited: login signatures (app token +
// HMAC with the app secret) and per-request Signatures with guessed
// secrets used to be answered 401 without limit. Now the guesses of one
// application token answered from one address are bounded (10 per 5
// minutes by default, login and request signatures counted as one
// secret), then 429 {"error"} with Retry-After, also for the right
// secret, and audited; the brand from another address still logs in
// and signs.
func TestAttack_TPVLoginGuessingLimited(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": func(testing.TB) string { return "" }, "postgres": pgtest.DSN} {
		t.Run(name, func(t *testing.T) {
			proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
			f := &fixture{clients: map[string]*sdk.Client{}}
			f.env = agtest.Start(t, agtest.Options{ManualClock: t0, PostgresDSN: dsn(t)}, func(svc core.Services) []httpapi.Module {
				return []httpapi.Module{tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(svc, proxy))}
			})
			b := f.newBrand(t, "", "Acme Energy")
			limit := core.DefaultGuardLimits().Pair
			send := func(req *http.Request, addr string) (int, string, map[string]any) {
				t.Helper()
				req.Header.Set("X-Forwarded-For", addr)
				resp, err := f.env.Srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatalf("%d: %s", resp.StatusCode, raw)
				}
				return resp.StatusCode, resp.Header.Get("Retry-After"), m
			}
			login := func(secret, addr string) (int, string, map[string]any) {
				f.env.Clock.Advance(time.Second) // a fresh timestamp: each login URL is good once
				req, _ := http.NewRequest(http.MethodPost, sdk.LoginURL(f.env.URL, b.ApplicationToken, secret, f.now()), nil)
				return send(req, addr)
			}
			signed := func(secret, authToken, addr string, n int) (int, string, map[string]any) {
				f.env.Clock.Advance(time.Second)
				u, _ := url.Parse(f.env.URL + tpv.RouteTestAPI + "?n=" + strconv.Itoa(n))
				ts := strconv.FormatInt(f.now().Unix(), 10)
				sig, err := sdk.RequestSignature(secret, http.MethodGet, u, ts, nil, authToken)
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
				req.Header.Set("Authorization", authToken)
				req.Header.Set(sdk.HeaderTimestamp, ts)
				req.Header.Set(sdk.HeaderSignature, sig)
				return send(req, addr)
			}
			// guesses sends 3x the limit and checks exactly the limit is answered 401.
			guesses := func(what string, try func(i int) (int, string, map[string]any)) {
				t.Helper()
				answered := 0
				for i := range 3 * limit {
					st, retry, m := try(i)
					msg, _ := m["error"].(string)
					switch {
					case st == 401:
						answered++
					case st == 429 && strings.Contains(msg, "too many failed authentications") && retry != "":
					default:
						t.Fatalf("%s %d: %d %v (Retry-After %q)", what, i, st, m, retry)
					}
				}
				if answered != limit {
					t.Fatalf("%s: %d of %d answered, want the limit %d", what, answered, 3*limit, limit)
				}
			}

			guesses("login guess", func(i int) (int, string, map[string]any) { return login("guess-"+strconv.Itoa(i), "203.0.113.1") })
			if st, _, m := login(b.AppSecret, "203.0.113.1"); st != 429 {
				t.Fatalf("right secret from the guessing address: %d %v", st, m)
			}
			st, _, m := login(b.AppSecret, "198.51.100.1")
			tok, _ := m["auth_token"].(string)
			if st != 200 || tok == "" {
				t.Fatalf("login from another address: %d %v", st, m)
			}
			// With a (stolen) auth_token, request signatures guess the same secret.
			guesses("request signature guess", func(i int) (int, string, map[string]any) {
				return signed("guess-"+strconv.Itoa(i), tok, "203.0.113.2", i)
			})
			if st, _, m := signed(b.AppSecret, tok, "203.0.113.2", 100); st != 429 {
				t.Fatalf("right signature from the guessing address: %d %v", st, m)
			}
			if st, _, m := signed(b.AppSecret, tok, "198.51.100.1", 101); st != 200 {
				t.Fatalf("signed request from the brand's address: %d %v", st, m)
			}

			events, err := f.env.Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "tpv"})
			if err != nil {
				t.Fatal(err)
			}
			limited := 0
			for _, ev := range events {
				if strings.Contains(ev.Reason, "too many failed authentications") {
					limited++
				}
			}
			if want := 2 * (2*limit + 1); limited != want {
				t.Fatalf("audited rate-limited failures: %d, want %d", limited, want)
			}
		})
	}
}
