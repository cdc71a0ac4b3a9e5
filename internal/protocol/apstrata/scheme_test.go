package apstrata_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/testutil/phptest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// schemeServer stands in for the gateway: every request, on any path
// ending in /{authKey}/{action}, is authenticated by the apstrata scheme
// alone, refused with its WriteRefusal, or answered with the caller as an
// Apstrata JSON envelope (so the PHP and Go clients parse it).
type schemeServer struct {
	*httptest.Server
	sc      scheme.Scheme
	mu      sync.Mutex
	callers []scheme.Caller
}

func newSchemeServer(t *testing.T, e *env) *schemeServer {
	t.Helper()
	schemes := e.mod.Schemes()
	if len(schemes) != 1 || schemes[0].Name() != "apstrata" || schemes[0].Family() != "apstrata" {
		t.Fatalf("schemes %v", schemes)
	}
	s := &schemeServer{sc: schemes[0]}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if s.sc.NeedsBody(r) {
			var err error
			if body, err = httpapi.ReadBody(w, r, 1<<16); err != nil {
				s.sc.WriteRefusal(w, r, err)
				return
			}
		}
		c, err := s.sc.Authenticate(r.Context(), scheme.Request{HTTP: r, Body: body, BodyKnown: true, Addr: netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			s.sc.WriteRefusal(w, r, err)
			return
		}
		s.mu.Lock()
		s.callers = append(s.callers, c)
		s.mu.Unlock()
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"response": map[string]any{
			"metadata": map[string]string{"status": "success"},
			"result":   map[string]string{"kind": string(c.Kind), "subject": c.Subject, "org": c.OrgID, "credential": c.CredentialID},
		}})
	}))
	t.Cleanup(s.Close)
	return s
}

// service is the service URL clients sign with: a gateway route's path,
// not /apsdb/rest.
func (s *schemeServer) service() string { return s.URL + "/api/data" }

func (s *schemeServer) last(t *testing.T) scheme.Caller {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.callers) == 0 {
		t.Fatal("no caller")
	}
	return s.callers[len(s.callers)-1]
}

// TestPHPSDKAnyAction: SaveDocument and Query signed as the vendor's PHP
// SDK signs them — default and simple signature, owner and user, GET and
// POST (form body) — authenticate through the apstrata scheme on a gateway
// path; each signed request is good once.
func TestPHPSDKAnyAction(t *testing.T) {
	php := phptest.Require(t)
	e := newEnv(t, true, nil)
	s := newSchemeServer(t, e)
	const login = "jane.doe@example.com"
	n := 0
	for _, action := range []struct{ name, method string }{{"SaveDocument", "POST"}, {"Query", "GET"}} {
		for _, mode := range []string{"default", "simple"} {
			for _, who := range []struct{ login, key, subject string }{{"", e.acct.Secret, e.acct.AuthKey}, {login, e.userPW, login}} {
				kind := core.PrincipalOwner
				if who.login != "" {
					kind = core.PrincipalUser
				}
				t.Run(action.name+"/"+mode+"/"+string(kind), func(t *testing.T) {
					n++
					ts := strconv.FormatInt(e.Clock.Now().Unix()-int64(n), 10)
					args := []string{s.service(), e.acct.AuthKey, action.name, mode, who.login, who.key, ts, action.method,
						"apsdb.store=DefaultStore", "apsdb.documentKey=order-" + strconv.Itoa(n), "item=tea & biscuits~*", "qty=2"}
					if action.name == "Query" {
						args = append(args[:8], "apsdb.store=DefaultStore", "apsdb.query=qty>1", "apsdb.queryFields=item,qty")
					}
					code, r := phpRun(t, php, "testdata/php_sdk_action.php", args...)
					if code != 200 || r["kind"] != string(kind) || r["subject"] != who.subject || r["org"] != e.acct.OrgID {
						t.Fatalf("%d %v", code, r)
					}
					if c := s.last(t); c.Scheme != "apstrata" || c.Family != "apstrata" || c.PrincipalID == "" {
						t.Fatalf("caller %+v", c)
					}
					code, r = phpRun(t, php, "testdata/php_sdk_action.php", args...)
					if code != 400 || r["metadata.errorCode"] != "INVALID_SIGNATURE" || r["metadata.errorDetail"] != "The signature has already been used" {
						t.Fatalf("replay: %d %v", code, r)
					}
				})
			}
		}
	}
}

// TestAttack_ApstrataSchemeOtherAccount: another account's owner secret,
// another account's user (signing with its own password) and another
// account's token are all refused under this account's authKey, and each
// refusal is audited.
func TestAttack_ApstrataSchemeOtherAccount(t *testing.T) {
	php := phptest.Require(t)
	e := newEnv(t, true, nil)
	s := newSchemeServer(t, e)
	ctx := context.Background()
	other, err := apstrata.CreateAccount(ctx, e.Svc, "rival")
	if err != nil {
		t.Fatal(err)
	}
	otherPW, err := apstrata.CreateMember(ctx, e.Svc, other.AuthKey, "mallory", "", false)
	if err != nil {
		t.Fatal(err)
	}
	before := auditFailures(t, e)
	ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
	for _, tc := range []struct{ mode, login, key string }{
		{"default", "", other.Secret}, {"simple", "", other.Secret},
		{"default", "mallory", otherPW}, {"simple", "mallory", otherPW},
	} {
		code, r := phpRun(t, php, "testdata/php_sdk_action.php", s.service(), e.acct.AuthKey, "SaveDocument", tc.mode, tc.login, tc.key, ts, "POST", "apsdb.store=DefaultStore")
		if code != 400 || r["metadata.errorCode"] != "INVALID_SIGNATURE" {
			t.Fatalf("%+v: %d %v", tc, code, r)
		}
	}
	// A token of the other account's user, presented under this authKey.
	mal := &sdk.Client{ServiceURL: e.URL + "/apsdb/rest", AuthKey: other.AuthKey, User: "mallory", Password: otherPW, HTTP: e.Srv.Client(), Now: e.Clock.Now}
	tok := do(mal.Call(ctx, http.MethodPost, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
	victim := &sdk.Client{ServiceURL: s.service(), AuthKey: e.acct.AuthKey, HTTP: s.Client()}
	r, err := victim.CallWithToken(ctx, http.MethodGet, "Query", "mallory", tok, vals("apsws.responseType", "json"))
	wantFailure(t, r, err, 400, "INVALID_SIGNATURE", "Invalid or expired token")
	r, err = victim.CallWithBearer(ctx, http.MethodGet, "Query", "mallory", tok, nil)
	wantFailure(t, r, err, 400, "INVALID_SIGNATURE", "")
	// The other account's authKey in the bearer, this account's in the path.
	req := httptest.NewRequest(http.MethodGet, s.service()+"/"+e.acct.AuthKey+"/Query", nil)
	req.Header.Set("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte(other.AuthKey+":mallory:"+tok)))
	if _, err := s.sc.Authenticate(ctx, scheme.Request{HTTP: req, BodyKnown: true}); core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("bearer of another authKey: %v", err)
	}
	if got := auditFailures(t, e) - before; got != 7 {
		t.Fatalf("%d refusals audited, want 7", got)
	}
}

func auditFailures(t *testing.T, e *env) int {
	t.Helper()
	ev, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "apstrata", Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ev)
}

// TestSchemeTokenAndBearer: a user's token authenticates any action as
// parameters and as a bearer header; the caller names the token and its
// expiry; Java-flavoured and device signatures pass too.
func TestSchemeTokenAndBearer(t *testing.T) {
	e := newEnv(t, true, nil)
	s := newSchemeServer(t, e)
	ctx := context.Background()
	res := do(e.user(sdk.PHP).Call(ctx, http.MethodPost, "GenerateToken", nil)).ok(t).Result
	tok := res["apsdb.authToken"]
	c := &sdk.Client{ServiceURL: s.service(), AuthKey: e.acct.AuthKey, HTTP: s.Client()}
	for name, call := range map[string]func() (*sdk.Response, error){
		"token params (POST form)": func() (*sdk.Response, error) {
			return c.CallWithToken(ctx, http.MethodPost, "SaveDocument", "jane.doe@example.com", tok, vals("apsdb.store", "s", "apsws.responseType", "json"))
		},
		"bearer": func() (*sdk.Response, error) {
			return c.CallWithBearer(ctx, http.MethodGet, "Query", "jane.doe@example.com", tok, vals("apsws.responseType", "json"))
		},
	} {
		r := do(call()).ok(t)
		caller := s.last(t)
		// Reusable: never (a front end's forward-auth cache must not keep an Apstrata acceptance).
		if r.Result["subject"] != "jane.doe@example.com" || caller.Kind != core.PrincipalUser || caller.CredentialID == "" ||
			!caller.ExpiresAt.Equal(start.Add(1800*time.Second)) || caller.Reusable {
			t.Fatalf("%s: %v %+v", name, r.Result, caller)
		}
	}
	for _, client := range []*sdk.Client{e.device(sdk.Java), e.owner(sdk.Java)} {
		client.ServiceURL, client.HTTP = s.service(), s.Client()
		client.Simple = client.User == ""
		if r := do(client.Call(ctx, http.MethodPost, "SaveDocument", vals("apsws.responseType", "json"))).ok(t); r.Result["subject"] == "" {
			t.Fatalf("java %v", r.Result)
		}
	}
	if c := s.last(t); c.Kind != core.PrincipalOwner || c.Subject != e.acct.AuthKey || c.Reusable {
		t.Fatalf("owner %+v", c)
	}
}

// TestBuiltInModuleAnyAction: /apsdb/rest authenticates actions it does
// not serve before saying so: a signed SaveDocument gets "Unknown action",
// a badly signed or anonymous one the authentication refusal.
func TestBuiltInModuleAnyAction(t *testing.T) {
	e := newEnv(t, true, nil)
	ctx := context.Background()
	for _, who := range []*sdk.Client{e.owner(sdk.PHP), e.user(sdk.PHP), e.user(sdk.Java)} {
		e.Clock.Advance(time.Second)
		r, err := who.Call(ctx, http.MethodPost, "SaveDocument", vals("apsdb.store", "DefaultStore"))
		wantFailure(t, r, err, 400, "INVALID_REQUEST", "Unknown action [SaveDocument]")
	}
	bad := e.user(sdk.PHP)
	bad.Password = "wrong"
	r, err := bad.Call(ctx, http.MethodGet, "Query", nil)
	wantFailure(t, r, err, 400, "INVALID_SIGNATURE", "Invalid signature")
	resp, err := e.Srv.Client().Get(e.URL + "/apsdb/rest/" + e.acct.AuthKey + "/Query?apsdb.store=DefaultStore")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if r, err := sdk.Parse(raw); err != nil || resp.StatusCode != 400 || r.ErrorCode != "INVALID_REQUEST" || r.ErrorDetail != "Query must not be called anonymously" {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, raw)
	}
}

// TestAttack_ApstrataSchemeBodyUnavailable: a POST whose form body the
// front end did not send is refused (its parameters are signed), in the
// response type the query asks for, and nothing is spent: the same
// request with its body then passes. A bearer POST needs no body.
func TestAttack_ApstrataSchemeBodyUnavailable(t *testing.T) {
	const gw = "https://gw.example/api/data"
	e := newEnv(t, true, func(c *apstrata.Config) { c.ServiceURLs = []string{gw} })
	sc := e.mod.Schemes()[0]
	ctx := context.Background()
	c := e.user(sdk.PHP)
	c.ServiceURL = "https://gw.example/api/data"
	params := vals("apsdb.store", "DefaultStore", "item", "tea", "apsws.responseType", "json")
	c.Sign(http.MethodPost, "SaveDocument", params)
	params.Del("apsws.responseType") // sent in the query, signed all the same
	body := params.Encode()
	req := httptest.NewRequest(http.MethodPost, "https://gw.example/api/data/"+e.acct.AuthKey+"/SaveDocument?apsws.responseType=json", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !sc.Presented(req) || !sc.NeedsBody(req) {
		t.Fatal("form POST not presented or body not needed")
	}
	_, err := sc.Authenticate(ctx, scheme.Request{HTTP: req, BodyKnown: false})
	if core.ReasonOf(err) != core.ReasonOf(scheme.BodyUnavailable()) {
		t.Fatalf("without the body: %v", err)
	}
	w := httptest.NewRecorder()
	sc.WriteRefusal(w, req, err)
	r, perr := sdk.Parse(w.Body.Bytes())
	if perr != nil || w.Code != 400 || r.ErrorCode != "INVALID_REQUEST" || r.ErrorDetail != core.ReasonOf(scheme.BodyUnavailable()) ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || len(r.RequestID) != 36 {
		t.Fatalf("refusal %d %s", w.Code, w.Body)
	}
	// With the body the very same signature passes (once).
	req.Body = io.NopCloser(strings.NewReader(body))
	if caller, err := sc.Authenticate(ctx, scheme.Request{HTTP: req, Body: []byte(body), BodyKnown: true}); err != nil || caller.Subject != "jane.doe@example.com" {
		t.Fatalf("with the body: %+v %v", caller, err)
	}
	if _, err := sc.Authenticate(ctx, scheme.Request{HTTP: req, Body: []byte(body), BodyKnown: true}); core.KindOf(err) != core.KindReplayed {
		t.Fatalf("again: %v", err)
	}
	// A bearer POST authenticates without the body (forward-auth passes it).
	tok := do(e.device(sdk.PHP).Call(ctx, http.MethodPost, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
	bearer := httptest.NewRequest(http.MethodPost, "https://gw.example/api/data/"+e.acct.AuthKey+"/SaveDocument", strings.NewReader("a=1"))
	bearer.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bearer.Header.Set("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte(e.acct.AuthKey+":dev-01:"+tok)))
	if c, err := sc.Authenticate(ctx, scheme.Request{HTTP: bearer, BodyKnown: false}); err != nil || c.Subject != "dev-01" {
		t.Fatalf("bearer POST without the body: %+v %v", c, err)
	}
}

func TestSchemeStripCredentials(t *testing.T) {
	e := newEnv(t, false, nil)
	sc := e.mod.Schemes()[0]
	out := httptest.NewRequest(http.MethodPost, "https://gw.example/api/data/K/SaveDocument?apsws.time=1&x=a%20b&apsws.authSig=ab&apsdb.authToken=T&apsdb.store=s", nil)
	out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	out.Header.Set("Authorization", "Bearer abc")
	out.Header.Set("Cookie", "apsdb.authToken=T; theme=dark")
	body := []byte("apsws.user=jane+1%40x&item=tea%7E&apsws.authMode=token&apsdb.authToken=T&%61psws.id=j&qty=2")
	got := sc.StripCredentials(out, body)
	if string(got) != "item=tea%7E&qty=2" || out.ContentLength != int64(len(got)) {
		t.Fatalf("body %q (%d)", got, out.ContentLength)
	}
	if out.URL.RawQuery != "x=a%20b&apsdb.store=s" {
		t.Fatalf("query %q", out.URL.RawQuery)
	}
	if out.Header.Get("Authorization") != "" || out.Header.Get("Cookie") != "theme=dark" {
		t.Fatalf("headers %v", out.Header)
	}
	get := httptest.NewRequest(http.MethodGet, "/api/data/K/Query?apsws.time=1", nil)
	if b := sc.StripCredentials(get, nil); b != nil || get.URL.RawQuery != "" {
		t.Fatalf("GET: %q %q", b, get.URL.RawQuery)
	}
	if !bytes.Equal(sc.StripCredentials(httptest.NewRequest(http.MethodPost, "/a/K/Q", nil), []byte("x")), []byte("x")) {
		t.Fatal("non-form body changed")
	}
}

func TestSchemePresented(t *testing.T) {
	e := newEnv(t, false, nil)
	sc := e.mod.Schemes()[0]
	bearer := "Bearer " + base64.StdEncoding.EncodeToString([]byte("K:jane:T"))
	for _, tc := range []struct {
		name, method, target, auth, ctype, cookie string
		want, body                                bool
	}{
		{"signed query", "GET", "/a/K/Query?apsws.time=1&apsws.authSig=ab", "", "", "", true, false},
		{"token query", "GET", "/a/K/Query?apsdb.authToken=T", "", "", "", true, false},
		{"apstrata bearer", "GET", "/a/K/Query", bearer, "", "", true, false},
		{"apstrata bearer POST", "POST", "/a/K/Save", bearer, "application/x-www-form-urlencoded", "", true, true},
		{"apstrata bearer POST, JSON", "POST", "/a/K/Save", bearer, "application/json", "", true, false},
		{"form POST", "POST", "/a/K/Save", "", "application/x-www-form-urlencoded", "", true, true},
		{"token cookie", "GET", "/a/K/Query", "", "", "apsdb.authToken=T", true, false},
		{"OAuth2 bearer", "GET", "/a/K/Query", "Bearer eyJhbGciOi.x.y", "", "", false, false},
		{"TPV token", "GET", "/a/K/Query?x=1", "tok", "", "", false, false},
		{"plain GET", "GET", "/a/K/Query?x=1", "", "", "", false, false},
		{"JSON POST", "POST", "/a/K/Save", "", "application/json", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			if got := sc.Presented(r); got != tc.want {
				t.Fatalf("Presented %v", got)
			}
			if got := sc.NeedsBody(r); got != tc.body {
				t.Fatalf("NeedsBody %v", got)
			}
		})
	}
}

// TestAttack_ApstrataSchemeGuessingLimited: password guesses signing any
// action through the scheme count against the same failed-authentication
// limit as the token actions: the limit is answered INVALID_SIGNATURE,
// then 429 with Retry-After in the envelope, also for the right password.
func TestAttack_ApstrataSchemeGuessingLimited(t *testing.T) {
	e := newEnv(t, true, nil)
	s := newSchemeServer(t, e)
	ctx := context.Background()
	limit := core.DefaultGuardLimits().Pair
	call := func(password string) (*sdk.Response, error) {
		c := e.user(sdk.PHP)
		c.ServiceURL, c.HTTP, c.Password = s.service(), s.Client(), password
		return c.Call(ctx, http.MethodPost, "SaveDocument", vals("apsws.responseType", "json"))
	}
	answered := 0
	for i := range 3 * limit {
		r, err := call("guess-" + strconv.Itoa(i))
		if err == nil {
			t.Fatalf("guess %d accepted", i)
		}
		switch {
		case r.StatusCode == 400 && r.ErrorCode == "INVALID_SIGNATURE":
			answered++
		case r.StatusCode == 429 && strings.Contains(r.ErrorDetail, "too many failed authentications"):
		default:
			t.Fatalf("guess %d: %d %s %q", i, r.StatusCode, r.ErrorCode, r.ErrorDetail)
		}
	}
	if answered != limit {
		t.Fatalf("%d guesses answered, want the limit %d", answered, limit)
	}
	req := httptest.NewRequest(http.MethodGet, s.service()+"/"+e.acct.AuthKey+"/Query?apsws.responseType=json", nil)
	c := e.user(sdk.PHP)
	c.ServiceURL = s.service()
	params := vals("apsws.responseType", "json")
	c.Sign(http.MethodGet, "Query", params)
	req.URL.RawQuery = params.Encode()
	_, err := s.sc.Authenticate(ctx, scheme.Request{HTTP: req, BodyKnown: true, Addr: netip.MustParseAddr("127.0.0.1")})
	w := httptest.NewRecorder()
	s.sc.WriteRefusal(w, req, err)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("right password from the guessing address: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// BenchmarkSchemeAuthenticate is the cost of one apstrata default-signature
// check of a user's SaveDocument as the gateway runs it (no HTTP).
func BenchmarkSchemeAuthenticate(b *testing.B) {
	e := newEnv(b, false, func(c *apstrata.Config) { c.ServiceURLs = []string{"https://gw.example/api/data"} })
	sc := e.mod.Schemes()[0]
	c := e.user(sdk.PHP)
	c.ServiceURL = "https://gw.example/api/data"
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		params := vals("apsdb.store", "DefaultStore", "n", strconv.Itoa(i))
		c.Sign(http.MethodGet, "SaveDocument", params)
		reqs[i] = httptest.NewRequest(http.MethodGet, "https://gw.example/api/data/"+e.acct.AuthKey+"/SaveDocument?"+params.Encode(), nil)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := sc.Authenticate(ctx, scheme.Request{HTTP: reqs[i], BodyKnown: true}); err != nil {
			b.Fatal(err)
		}
	}
}
