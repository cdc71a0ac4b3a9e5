package apstrata_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	sdk "github.com/authgate/authgate/sdk/apstrata"

	"github.com/authgate/authgate/internal/testutil/agtest"
)

var start = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type env struct {
	*agtest.Env
	acct     apstrata.Account
	userPW   string
	devicePW string
	mod      *apstrata.Module
}

func newEnv(t testing.TB, tls bool, mutate func(*apstrata.Config)) *env {
	t.Helper()
	cfg := apstrata.DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	var mod *apstrata.Module
	e := agtest.Start(t, agtest.Options{ManualClock: start, TLS: tls}, func(svc core.Services) []httpapi.Module {
		mod = apstrata.New(cfg, apstrata.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{mod}
	})
	ctx := context.Background()
	acct, err := apstrata.CreateAccount(ctx, e.Svc, "acme")
	if err != nil {
		t.Fatal(err)
	}
	userPW, err := apstrata.CreateMember(ctx, e.Svc, acct.AuthKey, "jane.doe@example.com", "pa ss~word", false)
	if err != nil {
		t.Fatal(err)
	}
	devicePW, err := apstrata.CreateMember(ctx, e.Svc, acct.AuthKey, "dev-01", "", true)
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, acct: acct, userPW: userPW, devicePW: devicePW, mod: mod}
}

func (e *env) client(flavor sdk.Flavor) *sdk.Client {
	return &sdk.Client{ServiceURL: e.URL + "/apsdb/rest", AuthKey: e.acct.AuthKey, Flavor: flavor, HTTP: e.Srv.Client(), Now: e.Clock.Now}
}

func (e *env) owner(flavor sdk.Flavor) *sdk.Client {
	c := e.client(flavor)
	c.Secret = e.acct.Secret
	return c
}

func (e *env) user(flavor sdk.Flavor) *sdk.Client {
	c := e.client(flavor)
	c.User, c.Password = "jane.doe@example.com", e.userPW
	return c
}

func (e *env) device(flavor sdk.Flavor) *sdk.Client {
	c := e.client(flavor)
	c.User, c.Password = "dev-01", e.devicePW
	return c
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// outcome pairs a call's two results so they can be checked in one expression.
type outcome struct {
	r   *sdk.Response
	err error
}

func do(r *sdk.Response, err error) outcome { return outcome{r, err} }

func (o outcome) ok(t *testing.T) *sdk.Response {
	t.Helper()
	if o.err != nil {
		t.Fatalf("call failed: %v", o.err)
	}
	return o.r
}

func wantFailure(t *testing.T, r *sdk.Response, err error, status int, code, detail string) {
	t.Helper()
	var ae *sdk.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want %s failure, got %v (%+v)", code, err, r)
	}
	if r.StatusCode != status || r.ErrorCode != code || (detail != "" && r.ErrorDetail != detail) {
		t.Fatalf("got %d %s %q, want %d %s %q", r.StatusCode, r.ErrorCode, r.ErrorDetail, status, code, detail)
	}
	if len(r.RequestID) != 36 {
		t.Fatalf("requestId %q is not a UUID", r.RequestID)
	}
}

func TestUserTokenLifecycle(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	for _, flavor := range []sdk.Flavor{sdk.PHP, sdk.Java} {
		for _, simple := range []bool{false, true} {
			u := e.user(flavor)
			u.Simple = simple
			method := http.MethodGet
			if flavor == sdk.Java {
				method = http.MethodPost
			}
			r := do(u.Call(ctx, method, "GenerateToken", nil)).ok(t)
			tok := r.Result["apsdb.authToken"]
			if len(tok) != 32 || strings.ToUpper(tok) != tok || r.Result["apsdb.tokenExpires"] != "1800" || r.Result["apsdb.tokenLifetime"] != "7200" {
				t.Fatalf("flavor %d simple %v: result %+v", flavor, simple, r.Result)
			}
			// The token authenticates as parameters and as a bearer header.
			v := do(u.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "jane.doe@example.com", tok, nil)).ok(t)
			if v.Result["type"] != "user" || v.Result["apsws.id"] != "jane.doe@example.com" {
				t.Fatalf("VerifyCredentials = %+v", v.Result)
			}
			do(u.CallWithBearer(ctx, http.MethodGet, "VerifyCredentials", "jane.doe@example.com", tok, nil)).ok(t)
		}
	}
}

func TestRenewKeepsOldTokenFiveSecondsAndNeverPastLifetime(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	u := e.user(sdk.PHP)
	r := do(u.Call(ctx, http.MethodGet, "GenerateToken", vals("apsdb.tokenExpires", "600", "apsdb.tokenLifetime", "1000"))).ok(t)
	old := r.Result["apsdb.authToken"]
	e.Clock.Advance(500 * time.Second)
	n := do(u.CallWithToken(ctx, http.MethodPost, "RenewToken", "jane.doe@example.com", old, nil)).ok(t)
	renewed := n.Result["apsdb.authToken"]
	if renewed == old || n.Result["apsdb.tokenExpires"] != "500" || n.Result["apsdb.tokenLifetime"] != "500" {
		t.Fatalf("renewal result %+v (expires must stop at the lifetime: 1000-500 s)", n.Result)
	}
	e.Clock.Advance(4 * time.Second)
	do(u.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "jane.doe@example.com", old, nil)).ok(t)
	e.Clock.Advance(2 * time.Second)
	r2, err := u.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "jane.doe@example.com", old, nil)
	wantFailure(t, r2, err, 400, apstrata.CodeInvalidSignature, "Invalid or expired token")
	// A renewed token cannot be renewed twice.
	r3, err := u.CallWithToken(ctx, http.MethodPost, "RenewToken", "jane.doe@example.com", old, nil)
	wantFailure(t, r3, err, 400, apstrata.CodeInvalidSignature, "")
	// At the end of the lifetime the new token dies and cannot be renewed.
	e.Clock.Advance(500 * time.Second)
	r4, err := u.CallWithToken(ctx, http.MethodPost, "RenewToken", "jane.doe@example.com", renewed, nil)
	wantFailure(t, r4, err, 400, apstrata.CodeInvalidSignature, "Invalid or expired token")
}

func TestOwnerRunAsAndEternalDeviceTokens(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	o := e.owner(sdk.PHP)
	r := do(o.Call(ctx, http.MethodGet, "GenerateToken", vals("apsdb.runAs", "dev-01", "apsws.responseType", "json"))).ok(t)
	if r.Result["apsdb.tokenExpires"] != "-1" || r.Result["apsdb.tokenLifetime"] != "-1" {
		t.Fatalf("device token without durations must be eternal: %+v", r.Result)
	}
	e.Clock.Advance(400 * 24 * time.Hour)
	do(o.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "dev-01", r.Result["apsdb.authToken"], nil)).ok(t)
	// With one duration the device gets the default for the other.
	r = do(e.device(sdk.Java).Call(ctx, http.MethodPost, "GenerateToken", vals("apsdb.tokenExpires", "60"))).ok(t)
	if r.Result["apsdb.tokenExpires"] != "60" || r.Result["apsdb.tokenLifetime"] != "7200" {
		t.Fatalf("device token = %+v", r.Result)
	}
	// Owners sign VerifyCredentials too.
	v := do(e.owner(sdk.Java).Call(ctx, http.MethodPost, "VerifyCredentials", nil)).ok(t)
	if v.Result["type"] != "owner" {
		t.Fatalf("owner VerifyCredentials = %+v", v.Result)
	}
}

func TestDeleteToken(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	u := e.user(sdk.PHP)
	tok := do(u.Call(ctx, http.MethodGet, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
	do(u.CallWithBearer(ctx, http.MethodPost, "DeleteToken", "jane.doe@example.com", tok, nil)).ok(t)
	r, err := u.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "jane.doe@example.com", tok, nil)
	wantFailure(t, r, err, 400, apstrata.CodeInvalidSignature, "Invalid or expired token")
	// The owner deletes a user's token by naming it in a signed request.
	e.Clock.Advance(time.Second) // the same signed request twice in one second would be a replay
	tok2 := do(u.Call(ctx, http.MethodGet, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
	do(e.owner(sdk.PHP).Call(ctx, http.MethodPost, "DeleteToken", vals("apsdb.authToken", tok2))).ok(t)
	r, err = u.CallWithToken(ctx, http.MethodPost, "VerifyCredentials", "jane.doe@example.com", tok2, nil)
	wantFailure(t, r, err, 400, apstrata.CodeInvalidSignature, "")
	events, err := e.Svc.Audit.List(ctx, core.AuditFilter{Protocol: "apstrata", Action: core.AuditRevoke})
	if err != nil || len(events) != 2 {
		t.Fatalf("revocations audited: %d, %v", len(events), err)
	}
}

func TestReferrerBindingAndCookie(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	u := e.user(sdk.PHP)
	params := vals()
	u.Sign(http.MethodGet, "GenerateToken", params)
	req, _ := u.Request(ctx, http.MethodGet, "GenerateToken", params, http.Header{"Referer": {"https://app.example.com/page?x=1"}})
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, err := sdk.Parse(body)
	if err != nil || r.Status != "success" {
		t.Fatalf("GenerateToken with referrer: %s", body)
	}
	tok := r.Result["apsdb.authToken"]
	call := func(ref string) *sdk.Response {
		v := vals("apsws.authMode", "token", "apsws.id", "jane.doe@example.com", "apsdb.authToken", tok)
		req, _ := u.Request(ctx, http.MethodPost, "VerifyCredentials", v, http.Header{"Referer": {ref}})
		resp, err := e.Srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r, _ := sdk.Parse(b)
		return r
	}
	if r := call("https://app.example.com/other"); r.Status != "success" {
		t.Fatalf("same origin refused: %+v", r)
	}
	if r := call("https://evil.example.net/"); r.ErrorCode != apstrata.CodeInvalidSignature {
		t.Fatalf("other origin accepted: %+v", r)
	}

	// tokenInCookie: the token comes back as a Secure, HttpOnly cookie, not in the body.
	params = vals("apsdb.tokenInCookie", "true")
	u.Sign(http.MethodGet, "GenerateToken", params)
	req, _ = u.Request(ctx, http.MethodGet, "GenerateToken", params, http.Header{"Referer": {"https://app.example.com/"}})
	resp, err = e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	r, _ = sdk.Parse(body)
	cookies := resp.Cookies()
	if r.Status != "success" || r.Result["apsdb.authToken"] != "" || len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || len(cookies[0].Value) != 32 {
		t.Fatalf("cookie token: %s %+v", body, cookies)
	}
	v := vals("apsws.authMode", "token", "apsws.id", "jane.doe@example.com")
	req, _ = u.Request(ctx, http.MethodPost, "VerifyCredentials", v, http.Header{"Referer": {"https://app.example.com/"}})
	req.AddCookie(cookies[0])
	resp, err = e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if r, _ := sdk.Parse(body); r.Status != "success" {
		t.Fatalf("token from cookie refused: %s", body)
	}
}

func TestXMLEnvelopeMatchesDocument(t *testing.T) {
	e := newEnv(t, true, nil)
	u := e.user(sdk.PHP)
	params := vals()
	u.Sign(http.MethodGet, "GenerateToken", params)
	req, _ := u.Request(context.Background(), http.MethodGet, "GenerateToken", params, nil)
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := string(b)
	for _, want := range []string{`<response xmlns="http://www.apstrata.com/services/schemas/apstrata_database_response.xsd"><metadata><requestId>`,
		`</requestId><status>success</status></metadata><result><apsdb.authToken>`, `<apsdb.tokenExpires>1800</apsdb.tokenExpires><apsdb.tokenLifetime>7200</apsdb.tokenLifetime></result></response>`} {
		if !strings.Contains(s, want) {
			t.Fatalf("XML response lacks %q:\n%s", want, s)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type %q", ct)
	}
}

// A client that addresses the server as localhost (the name a newcomer
// types) signs that name into the service URL; the server, listening on a
// loopback address, accepts it as its own. A Host naming anything else is
// not believed, so a signature made for another service does not verify.
func TestSignatureForLocalhostServiceURL(t *testing.T) {
	e := newEnv(t, false, nil)
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		ok   bool
	}{{"localhost:" + u.Port(), true}, {"auth.example.com", false}} {
		c := e.owner(sdk.PHP)
		c.ServiceURL = "http://" + tt.host + "/apsdb/rest"
		params := vals("apsws.responseType", "json")
		c.Sign(http.MethodPost, "VerifyCredentials", params)
		req, err := c.Request(context.Background(), http.MethodPost, "VerifyCredentials", params, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Host = u.Host // sent to 127.0.0.1:port, with the Host the client signed
		resp, err := e.Srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != tt.ok {
			t.Errorf("Host %s: status %d %s", tt.host, resp.StatusCode, body)
		}
	}
}
