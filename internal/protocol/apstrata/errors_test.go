package apstrata_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// send signs params with c (unless c is nil) and sends them raw, so tests
// control every parameter and header.
func send(t *testing.T, e *env, c *sdk.Client, method, action string, params url.Values, h http.Header) *sdk.Response {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	if c == nil {
		c = e.client(sdk.PHP)
	} else {
		c.Sign(method, action, params)
	}
	req, err := c.Request(context.Background(), method, action, params, h)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r, err := sdk.Parse(b)
	if err != nil {
		t.Fatalf("unparseable response %d: %s", resp.StatusCode, b)
	}
	r.StatusCode = resp.StatusCode
	return r
}

func TestEveryErrorOfTheDocument(t *testing.T) {
	e := newEnv(t, true, func(c *apstrata.Config) { c.TokenLimit = 2 })
	plain := newEnv(t, false, nil)
	enforced := newEnv(t, true, func(c *apstrata.Config) { c.EnforceBindReferrer = true })
	stale := func(e *env, d time.Duration) *sdk.Client {
		c := e.user(sdk.PHP)
		c.Now = func() time.Time { return e.Clock.Now().Add(d) }
		return c
	}
	wrongPW := e.user(sdk.PHP)
	wrongPW.Password = "not the password"
	ref := func(v string) http.Header { return http.Header{"Referer": {v}} }

	tests := []struct {
		name   string
		env    *env
		client *sdk.Client
		params url.Values
		header http.Header
		status int
		code   string
		detail string
		audit  bool // an auth_failure audit entry is expected
	}{
		{"anonymous", e, nil, nil, nil, 400, apstrata.CodeInvalidRequest, "GenerateToken must not be called anonymously", true},
		{"owner without runAs", e, e.owner(sdk.PHP), nil, nil, 400, apstrata.CodeInvalidRequest, "Token-based authentication is not allowed for account owners", true},
		{"plain http", plain, plain.user(sdk.PHP), nil, nil, 400, apstrata.CodeInvalidRequest, "Token Generation is not allowed over non-secure connections.", true},
		{"cookie without referrer", e, e.user(sdk.PHP), vals("apsdb.tokenInCookie", "true"), nil, 400, apstrata.CodeInvalidRequest, "Token-based authentication with cookies requires a referrer to be set", false},
		{"unknown parameter", e, e.user(sdk.PHP), vals("apsdb.color", "red"), nil, 400, apstrata.CodeInvalidParameter, "The parameter [apsdb.color] is not allowed in GenerateToken", false},
		{"bindReferrer not boolean", e, e.user(sdk.PHP), vals("apsdb.bindReferrer", "yes"), nil, 400, apstrata.CodeInvalidParameter, "The parameter [apsdb.bindReferrer] can only be [true] or [false]", false},
		{"tokenInCookie not boolean", e, e.user(sdk.PHP), vals("apsdb.tokenInCookie", "1"), nil, 400, apstrata.CodeInvalidParameter, "The parameter [apsdb.tokenInCookie] can only be [true] or [false]", false},
		{"binding enforced", enforced, enforced.user(sdk.PHP), vals("apsdb.bindReferrer", "false"), nil, 400, apstrata.CodeInvalidParameter, "Account has enforced binding to referrer when generating tokens", false},
		{"runAs by a user", e, e.user(sdk.PHP), vals("apsdb.runAs", "dev-01"), nil, 400, apstrata.CodeInvalidParameter, "Invalid parameter apsdb.runAs", false},
		{"expires not a number", e, e.user(sdk.PHP), vals("apsdb.tokenExpires", "abc"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires] is not a valid number.", false},
		{"lifetime not a number", e, e.user(sdk.PHP), vals("apsdb.tokenLifetime", "1e3"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenLifetime] is not a valid number.", false},
		{"expires zero", e, e.user(sdk.PHP), vals("apsdb.tokenExpires", "0"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires] can't be a zero or a negative number.", false},
		{"lifetime negative", e, e.user(sdk.PHP), vals("apsdb.tokenLifetime", "-5"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenLifetime] can't be a zero or a negative number.", false},
		{"lifetime over maximum", e, e.user(sdk.PHP), vals("apsdb.tokenLifetime", "604801"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.Lifetime] must be equal to or less than [604800]", false},
		{"expires over maximum", e, e.user(sdk.PHP), vals("apsdb.tokenExpires", "86401", "apsdb.tokenLifetime", "604800"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires] must be equal to or less than [86400]", false},
		{"expires over lifetime", e, e.user(sdk.PHP), vals("apsdb.tokenExpires", "3000", "apsdb.tokenLifetime", "2000"), nil, 400, apstrata.CodeInvalidParameterValue, "The parameter [apsdb.tokenExpires: 3000] must be equal to or less than [apsdb.tokenLifetime: 2000]", false},
		{"wrong password", e, wrongPW, nil, nil, 400, apstrata.CodeInvalidSignature, "Invalid signature", true},
		{"stale time", e, stale(e, -6*time.Minute), nil, nil, 400, apstrata.CodeInvalidSignature, "Invalid signature", true},
		{"future time", e, stale(e, 6*time.Minute), nil, nil, 400, apstrata.CodeInvalidSignature, "Invalid signature", true},
		{"unknown runAs", e, e.owner(sdk.PHP), vals("apsdb.runAs", "ghost"), nil, 400, apstrata.CodeInvalidIdentifier, "Unknown user or device [ghost]", false},
		{"malformed referer", e, e.user(sdk.PHP), nil, ref("not a url"), 400, apstrata.CodeMalformedReferer, "Invalid originating referrer from the Referer header [not a url]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := tt.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure})
			tt.env.Clock.Advance(time.Second) // fresh signatures per case
			r := send(t, tt.env, tt.client, http.MethodGet, "GenerateToken", tt.params, tt.header)
			if r.StatusCode != tt.status || r.ErrorCode != tt.code || r.ErrorDetail != tt.detail || r.Status != "failure" {
				t.Fatalf("got %d %s %q, want %d %s %q", r.StatusCode, r.ErrorCode, r.ErrorDetail, tt.status, tt.code, tt.detail)
			}
			after, _ := tt.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure})
			if tt.audit && len(after) != len(before)+1 {
				t.Fatalf("auth failure not audited (%d -> %d)", len(before), len(after))
			}
		})
	}

	t.Run("replayed signature", func(t *testing.T) {
		e.Clock.Advance(time.Second)
		u := e.user(sdk.PHP)
		params := url.Values{}
		u.Sign(http.MethodGet, "VerifyCredentials", params)
		if r := send(t, e, nil, http.MethodGet, "VerifyCredentials", params, nil); r.Status != "success" {
			t.Fatalf("first use: %+v", r)
		}
		r := send(t, e, nil, http.MethodGet, "VerifyCredentials", params, nil)
		if r.ErrorCode != apstrata.CodeInvalidSignature || r.ErrorDetail != "The signature has already been used" {
			t.Fatalf("replay: %+v", r)
		}
	})

	t.Run("too many tokens", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			e.Clock.Advance(time.Second)
			if r := send(t, e, e.device(sdk.PHP), http.MethodGet, "GenerateToken", nil, nil); r.Status != "success" {
				t.Fatalf("token %d: %+v", i, r)
			}
		}
		e.Clock.Advance(time.Second)
		r := send(t, e, e.device(sdk.PHP), http.MethodGet, "GenerateToken", nil, nil)
		if r.StatusCode != 400 || r.ErrorCode != apstrata.CodeTooManyTokens || r.ErrorDetail != "The total number of tokens must not exceed [2]" {
			t.Fatalf("got %+v", r)
		}
	})

	t.Run("internal error", func(t *testing.T) {
		// An account whose sealed secret does not open (wrong master key) is an internal error, not a client one.
		ctx := context.Background()
		p, err := e.Svc.CreatePrincipal(ctx, e.acct.OrgID, core.PrincipalOwner, "broken")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Svc.Store.CreateCredential(ctx, core.Credential{ID: core.NewID(), PrincipalID: p.ID, OrgID: e.acct.OrgID, Kind: core.CredSigningKey, Lookup: "BROKEN", Sealed: make([]byte, 40), CreatedAt: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		c := e.owner(sdk.PHP)
		c.AuthKey = "BROKEN"
		r := send(t, e, c, http.MethodGet, "VerifyCredentials", nil, nil)
		if r.StatusCode != 500 || r.ErrorCode != apstrata.CodeInternalError || strings.Contains(r.ErrorDetail, "sealed") {
			t.Fatalf("got %+v", r)
		}
	})
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, true, nil)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"unknown action", "GET", "/apsdb/rest/K/DropTables", "", "", 400, apstrata.CodeInvalidRequest},
		{"malformed query", "GET", "/apsdb/rest/K/GenerateToken?a=%zz", "", "", 400, apstrata.CodeInvalidRequest},
		{"huge form body", "POST", "/apsdb/rest/K/GenerateToken", "a=" + strings.Repeat("x", 70<<10), "application/x-www-form-urlencoded", 413, apstrata.CodeInvalidRequest},
		{"json body", "POST", "/apsdb/rest/K/GenerateToken", `{"a":1}`, "application/json", 415, apstrata.CodeInvalidRequest},
		{"unknown authKey", "GET", "/apsdb/rest/NOPE/VerifyCredentials?apsws.time=" + itoa(e.Clock.Now().Unix()) + "&apsws.authSig=00", "", "", 400, apstrata.CodeInvalidSignature},
		{"odd hex signature", "GET", "/apsdb/rest/" + e.acct.AuthKey + "/VerifyCredentials?apsws.time=" + itoa(e.Clock.Now().Unix()) + "&apsws.authSig=xyz", "", "", 400, apstrata.CodeInvalidSignature},
		{"bad bearer", "GET", "/apsdb/rest/" + e.acct.AuthKey + "/VerifyCredentials", "", "", 400, apstrata.CodeInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.name == "bad bearer" {
				req.Header.Set("Authorization", "Bearer ###")
			}
			resp, err := e.Srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r, err := sdk.Parse(b)
			if err != nil || resp.StatusCode != tt.status || r.ErrorCode != tt.code {
				t.Fatalf("got %d %s (%v)", resp.StatusCode, b, err)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTokenLimitHoldsUnderConcurrency(t *testing.T) {
	e := newEnv(t, true, func(c *apstrata.Config) { c.TokenLimit = 3 })
	var wg sync.WaitGroup
	results := make(chan *sdk.Response, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct parameters make distinct signatures within the same second.
			results <- send(t, e, e.owner(sdk.PHP), http.MethodGet, "GenerateToken", vals("apsdb.runAs", "dev-01", "apsdb.tokenExpires", strconv.Itoa(60+i)), nil)
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for r := range results {
		switch {
		case r.Status == "success":
			ok++
		case r.ErrorCode != apstrata.CodeTooManyTokens:
			t.Fatalf("unexpected failure %+v", r)
		}
	}
	p, err := e.Svc.Store.FindPrincipal(context.Background(), e.acct.OrgID, core.PrincipalDevice, "dev-01")
	if err != nil {
		t.Fatal(err)
	}
	live, err := e.Svc.Store.CountActiveTokens(context.Background(), p.ID, core.TokenApstrata, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ok > 3 || live > 3 || ok != live {
		t.Fatalf("%d tokens granted, %d live, limit 3", ok, live)
	}
}
