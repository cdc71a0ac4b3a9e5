package apstrata_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// signedFrom sends a signed VerifyCredentials from the client address
// addr (X-Forwarded-For through a trusted proxy) and returns the HTTP
// status, the Retry-After header and the parsed envelope.
func signedFrom(t *testing.T, c *sdk.Client, addr string, n int) (int, string, *sdk.Response) {
	t.Helper()
	params := url.Values{"n": {strconv.Itoa(n)}}
	c.Sign(http.MethodGet, "VerifyCredentials", params)
	req, err := c.Request(context.Background(), http.MethodGet, "VerifyCredentials", params, http.Header{"X-Forwarded-For": {addr}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	env, err := sdk.Parse(raw)
	if err != nil {
		t.Fatalf("HTTP %d: %v: %s", res.StatusCode, err, raw)
	}
	return res.StatusCode, res.Header.Get("Retry-After"), env
}

// TestAttack_ApstrataPasswordGuessingLimited: user and device passwords
// are chosen by people; a signed request with a guessed password used to
// be answered INVALID_SIGNATURE as fast as it could be sent. Now the
// guesses answered are bounded per user and address (10 per 5 minutes by
// default), then 429 with Retry-After in the Apstrata envelope, also for
// the right password, and audited; the user from another address still
// gets in. The owner's signing secret is limited the same way, apart.
func TestAttack_ApstrataPasswordGuessingLimited(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": func(testing.TB) string { return "" }, "postgres": pgtest.DSN} {
		t.Run(name, func(t *testing.T) {
			proxy := httpapi.ClientAddr{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
			e := agtest.Start(t, agtest.Options{ManualClock: start, PostgresDSN: dsn(t)}, func(svc core.Services) []httpapi.Module {
				return []httpapi.Module{apstrata.New(apstrata.DefaultConfig(), apstrata.DepsFrom(svc, proxy))}
			})
			ctx := context.Background()
			acct, err := apstrata.CreateAccount(ctx, e.Svc, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := apstrata.CreateMember(ctx, e.Svc, acct.AuthKey, "jane", "Summer2026", false); err != nil {
				t.Fatal(err)
			}
			client := func(user, password, secret string) *sdk.Client {
				return &sdk.Client{ServiceURL: e.URL + "/apsdb/rest", AuthKey: acct.AuthKey, User: user, Password: password, Secret: secret, HTTP: e.Srv.Client(), Now: e.Clock.Now}
			}
			const attacker = "203.0.113.66"
			limit := core.DefaultGuardLimits().Pair
			seq := 0
			guess := func(c *sdk.Client, addr string) (int, string, *sdk.Response) {
				seq++
				return signedFrom(t, c, addr, seq)
			}
			for _, target := range []struct {
				name         string
				wrong, right *sdk.Client
			}{
				{"user password", client("jane", "", ""), client("jane", "Summer2026", "")},
				{"owner secret", client("", "", "guess"), client("", "", acct.Secret)},
			} {
				answered := 0
				for i := range 3 * limit {
					target.wrong.Password, target.wrong.Secret = target.wrong.Password+"x", target.wrong.Secret+"x"
					if target.wrong.User == "" {
						target.wrong.Password = ""
					}
					st, retry, r := guess(target.wrong, attacker)
					switch {
					case st == 400 && r.ErrorCode == "INVALID_SIGNATURE":
						answered++
					case st == 429 && r.ErrorCode == "INVALID_REQUEST" && strings.Contains(r.ErrorDetail, "too many failed authentications") && retry != "":
					default:
						t.Fatalf("%s guess %d: %d %s %s (Retry-After %q)", target.name, i, st, r.ErrorCode, r.ErrorDetail, retry)
					}
				}
				if answered != limit {
					t.Fatalf("%s: %d of %d guesses answered, want the limit %d", target.name, answered, 3*limit, limit)
				}
				if st, _, r := guess(target.right, attacker); st != 429 {
					t.Fatalf("%s: right secret from the guessing address: %d %s", target.name, st, r.ErrorCode)
				}
				if st, _, r := guess(target.right, "198.51.100.1"); st != 200 || r.Status != "success" {
					t.Fatalf("%s: right secret from another address: %d %s %s", target.name, st, r.ErrorCode, r.ErrorDetail)
				}
			}
			events, err := e.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "apstrata"})
			if err != nil {
				t.Fatal(err)
			}
			limited := 0
			for _, ev := range events {
				if strings.Contains(ev.Reason, "too many failed authentications") && ev.RemoteAddr == attacker {
					limited++
				}
			}
			if want := 2 * (2*limit + 1); limited != want {
				t.Fatalf("audited rate-limited failures: %d, want %d", limited, want)
			}
		})
	}
}
