package tpv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// loginURL signs a login at ts with secret (which may be wrong).
func loginURL(base, token, secret string, ts int64) string {
	s := strconv.FormatInt(ts, 10)
	return base + "/api/v1/auth?token=" + url.QueryEscape(token) + "&timestamp=" + s + "&_signature=" + sdk.LoginSignature(token, s, secret)
}

func TestLogin(t *testing.T) {
	f := start(t, tpv.DefaultConfig(), agtest.Options{ManualClock: t0})
	now := t0.Unix()
	tok, sec := f.brand.ApplicationToken, f.brand.AppSecret
	good := loginURL(f.env.URL, tok, sec, now)
	upper := f.env.URL + "/api/v1/auth?token=" + tok + "&timestamp=" + strconv.FormatInt(now-1, 10) + "&_signature=" +
		strings.ToUpper(sdk.LoginSignature(tok, strconv.FormatInt(now-1, 10), sec))
	for _, tc := range []struct {
		name, url string
		status    int
		msg       string // "" for success
		reason    string // audit reason
	}{
		{"ok", good, 200, "", ""},
		{"replayed", good, 401, "signature already used", "replayed login signature"},
		{"upper-case hex", upper, 200, "", ""},
		{"wrong secret", loginURL(f.env.URL, tok, "not-the-secret", now), 401, "invalid token or signature", "login signature mismatch"},
		{"unknown token", loginURL(f.env.URL, "no-such-token", sec, now), 401, "invalid token or signature", "application token: unknown credential"},
		{"missing signature", f.env.URL + "/api/v1/auth?token=" + tok + "&timestamp=" + strconv.FormatInt(now, 10), 400, "_signature must be given", ""},
		{"missing token", f.env.URL + "/api/v1/auth?timestamp=1&_signature=" + strings.Repeat("a", 64), 400, "token must be given", ""},
		{"malformed signature", f.env.URL + "/api/v1/auth?token=" + tok + "&timestamp=1&_signature=xyz", 400, "_signature must be 64 hexadecimal digits", ""},
		{"stale", loginURL(f.env.URL, tok, sec, now-301), 400, "timestamp is too old", "stale timestamp, 5m1s behind"},
		{"future", loginURL(f.env.URL, tok, sec, now+301), 400, "timestamp is in the future", "future timestamp, 5m1s ahead"},
		{"edge of window", loginURL(f.env.URL, tok, sec, now-300), 200, "", ""},
		{"millisecond timestamp", loginURL(f.env.URL, tok, sec, now*1000), 400, "timestamp must be a unix time in seconds", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.auditCount(t)
			st, body := f.do(t, newRequest(t, "POST", tc.url, nil))
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, body)
			}
			ev := f.lastAudit(t)
			if f.auditCount(t) != before+1 {
				t.Fatalf("want exactly one audit event, got %d", f.auditCount(t)-before)
			}
			if tc.msg == "" {
				if tokv, _ := body["auth_token"].(string); len(tokv) < 40 || body["expires_in"] != 1800.0 {
					t.Fatalf("login answer %v", body)
				}
				if ev.Action != core.AuditIssue || ev.Outcome != core.OutcomeSuccess || ev.Subject != tok || ev.RemoteAddr == "" {
					t.Fatalf("audit %+v", ev)
				}
				return
			}
			if got := requireErrorShape(t, body); got != tc.msg {
				t.Fatalf("error %q, want %q", got, tc.msg)
			}
			want := tc.reason
			if want == "" {
				want = tc.msg
			}
			if ev.Action != core.AuditAuthFailure || ev.Outcome != core.OutcomeFailure || ev.Reason != want {
				t.Fatalf("audit %+v, want reason %q", ev, want)
			}
		})
	}
	t.Run("disabled brand", func(t *testing.T) {
		if err := f.env.Svc.Store.SetPrincipalDisabled(context.Background(), f.brand.BrandID, true); err != nil {
			t.Fatal(err)
		}
		defer f.env.Svc.Store.SetPrincipalDisabled(context.Background(), f.brand.BrandID, false)
		st, body := f.do(t, newRequest(t, "POST", loginURL(f.env.URL, tok, sec, now-2), nil))
		if st != 401 || requireErrorShape(t, body) != "brand is disabled" {
			t.Fatalf("%d %v", st, body)
		}
	})
}

// signedRequest builds a request signed like the SDK does, with knobs to break it.
type signedRequest struct {
	method, path, rawQuery string
	body                   []byte
	contentType            string
	ts                     int64
	token, secret          string
	signQuery              string // when set, sign this query instead of the one sent
	noSignature            bool
	noTimestamp            bool
	upperHex               bool
}

func (f *fixture) build(t testing.TB, s signedRequest) *http.Request {
	t.Helper()
	u := f.env.URL + s.path
	if s.rawQuery != "" {
		u += "?" + s.rawQuery
	}
	req := newRequest(t, s.method, u, s.body)
	if s.contentType != "" {
		req.Header.Set("Content-Type", s.contentType)
	}
	if s.token != "" {
		req.Header.Set("Authorization", s.token)
	}
	ts := strconv.FormatInt(s.ts, 10)
	if !s.noTimestamp {
		req.Header.Set(sdk.HeaderTimestamp, ts)
	}
	if !s.noSignature {
		su := *req.URL
		if s.signQuery != "" {
			su.RawQuery = s.signQuery
		}
		sig, err := sdk.RequestSignature(s.secret, s.method, &su, ts, s.body, s.token)
		if err != nil {
			t.Fatal(err)
		}
		if s.upperHex {
			sig = strings.ToUpper(sig)
		}
		req.Header.Set(sdk.HeaderSignature, sig)
	}
	return req
}

// TestRecordListsEveryInvalidField posts a sales record with faults in
// four fields, nested ones included: one refusal names them all, in
// document order, with the first as the vendor's "error".
func TestRecordListsEveryInvalidField(t *testing.T) {
	cfg := tpv.DefaultConfig()
	f := start(t, cfg, agtest.Options{ManualClock: t0})
	authTok, err := f.client(f.brand).Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(exampleRecord(t), &rec); err != nil {
		t.Fatal(err)
	}
	rec["channel"] = "web"
	delete(rec, "btn")
	rec["service_zip"] = "1000"
	rec["products"].([]any)[0].(map[string]any)["account_numbers"].([]any)[0].(map[string]any)["account_number"] = "12/3"
	body, _ := json.Marshal(rec)
	req := f.build(t, signedRequest{method: "POST", path: "/api/v1/tpv", body: body, contentType: "application/json",
		ts: f.now().Unix(), token: authTok, secret: f.brand.AppSecret})
	st, m := f.do(t, req)
	want := []string{
		"channel must be defined as one of dtd, tm, or retail.",
		"btn must be given.",
		"service_zip must be a 5-digit ZIP code or ZIP+4.",
		"products[0].account_numbers[0].account_number must be 1 to 64 letters, digits, spaces or '-'.",
	}
	if st != http.StatusBadRequest || requireErrorShape(t, m) != want[0] || !slices.Equal(errorList(t, m["errors"]), want) {
		t.Fatalf("status %d, body %v; want 400 listing %q", st, m, want)
	}
	// The SDK (and so `authgate tpv submit`) reports every fault too.
	_, err = f.client(f.brand).Submit(context.Background(), json.RawMessage(body))
	var e *sdk.Error
	if !errors.As(err, &e) || e.Message != want[0] || !slices.Equal(e.Errors, want) || err.Error() != "tpv: 400 "+strings.Join(want, " ") {
		t.Fatalf("SDK error %v", err)
	}
}

func TestSignedRequests(t *testing.T) {
	cfg := tpv.DefaultConfig()
	cfg.MaxBodyBytes = 4096
	f := start(t, cfg, agtest.Options{ManualClock: t0})
	ctx := context.Background()
	authTok, err := f.client(f.brand).Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	record := exampleRecord(t)
	now := t0.Unix()
	base := func(mut func(*signedRequest)) signedRequest {
		s := signedRequest{method: "POST", path: "/api/v1/tpv", body: record, contentType: "application/json",
			ts: now, token: authTok, secret: f.brand.AppSecret}
		if mut != nil {
			mut(&s)
		}
		return s
	}
	replay := f.build(t, base(func(s *signedRequest) { s.path, s.body, s.contentType, s.rawQuery = "/api/v1/test/api", nil, "", "n=1" }))
	replayBody := replay.Header.Clone()

	cases := []struct {
		name   string
		req    signedRequest
		status int
		msg    string // exact error, or a regexp for successes
		action string // audit action of a failure
	}{
		{"submit", base(nil), 200, `^\d{11}$`, ""},
		{"bearer prefix tolerated", base(func(s *signedRequest) { s.ts = now - 1 }), 200, `^\d{11}$`, ""},
		{"upper-case hex", base(func(s *signedRequest) { s.ts = now - 2; s.upperHex = true }), 200, `^\d{11}$`, ""},
		{"query signed", base(func(s *signedRequest) {
			s.path, s.body, s.contentType, s.rawQuery = "/api/v1/test/api", nil, "", "b=2&a=1&a=0&sp=x+y"
		}), 200, "^authenticated$", ""},
		{"missing Authorization", base(func(s *signedRequest) { s.token = "" }), 401, "Authorization header must carry the auth_token", core.AuditAuthFailure},
		{"unknown auth token", base(func(s *signedRequest) { s.token = "bogus" }), 401, "auth_token is not valid", core.AuditAuthFailure},
		{"missing Signature", base(func(s *signedRequest) { s.noSignature = true }), 401, "Signature header must be given", core.AuditAuthFailure},
		{"missing timestamp", base(func(s *signedRequest) { s.noTimestamp = true }), 400, "X-TPV-Timestamp header must be given with a Signature", core.AuditAuthFailure},
		{"wrong secret", base(func(s *signedRequest) { s.secret = "wrong" }), 401, "Signature does not match the request", core.AuditAuthFailure},
		{"query not as signed", base(func(s *signedRequest) {
			s.path, s.body, s.contentType, s.rawQuery, s.signQuery = "/api/v1/test/api", nil, "", "amount=100", "amount=1"
		}), 401, "Signature does not match the request", core.AuditAuthFailure},
		{"stale", base(func(s *signedRequest) { s.ts = now - 301 }), 400, "X-TPV-Timestamp header is too old", core.AuditAuthFailure},
		{"future", base(func(s *signedRequest) { s.ts = now + 301 }), 400, "X-TPV-Timestamp header is in the future", core.AuditAuthFailure},
		{"malformed JSON", base(func(s *signedRequest) { s.body = []byte(`{"channel":`) }), 400, "body must be valid JSON.", "reject"},
		{"wrong type", base(func(s *signedRequest) {
			s.body = bytes.Replace(record, []byte(`"btn": "19181112222"`), []byte(`"btn": 19181112222`), 1)
		}), 400, "btn must be a string.", "reject"},
		{"vendor channel message", base(func(s *signedRequest) {
			s.body = bytes.Replace(record, []byte(`"channel": "dtd"`), []byte(`"channel": "web"`), 1)
		}), 400, "channel must be defined as one of dtd, tm, or retail.", "reject"},
		{"unknown program code", base(func(s *signedRequest) {
			s.body = bytes.Replace(record, []byte(`"program_code": "555"`), []byte(`"program_code": "999"`), 1)
		}), 400, "products[0].program_code must be the program code of one of the brand's products.", "reject"},
		{"wrong content type", base(func(s *signedRequest) { s.contentType = "text/plain" }), 415, "Content-Type must be application/json", "reject"},
		{"huge body", base(func(s *signedRequest) { s.body = bytes.Repeat([]byte("x"), 5000) }), 413, "request body must be at most 4096 bytes", "reject"},
		{"unknown confirmation code", base(func(s *signedRequest) { s.path, s.body, s.contentType = "/api/v1/digital/send/00000000000", nil, "" }), 404, "confirmation code not found", "reject"},
		{"malformed confirmation code", base(func(s *signedRequest) { s.path, s.body, s.contentType = "/api/v1/queue/call/abc", nil, "" }), 404, "confirmation code not found", "reject"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Identical requests in one second sign identically (and the
			// second is a replay): give each case its own second.
			if tc.req.ts == now {
				tc.req.ts = now - int64(i) - 10
			}
			req := f.build(t, tc.req)
			if tc.name == "bearer prefix tolerated" {
				req.Header.Set("Authorization", "Bearer "+authTok)
				// The signature covers the token itself, not the scheme.
			}
			before := f.auditCount(t)
			st, body := f.do(t, req)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, body)
			}
			if tc.status == 200 {
				if s, _ := body["success"].(string); !regexp.MustCompile(tc.msg).MatchString(s) {
					t.Fatalf("success %v", body)
				}
				return
			}
			if got := requireErrorShape(t, body); got != tc.msg {
				t.Fatalf("error %q, want %q", got, tc.msg)
			}
			if f.auditCount(t) != before+1 {
				t.Fatalf("want one audit event, got %d", f.auditCount(t)-before)
			}
			if ev := f.lastAudit(t); ev.Action != tc.action || ev.Outcome != core.OutcomeFailure || ev.Reason == "" {
				t.Fatalf("audit %+v", ev)
			}
		})
	}

	t.Run("replayed signature", func(t *testing.T) {
		req := newRequest(t, "POST", f.env.URL+"/api/v1/test/api?n=1", nil)
		req.Header = replayBody.Clone()
		if st, body := f.do(t, req); st != 200 {
			t.Fatalf("first use: %d %v", st, body)
		}
		for _, sig := range []string{replayBody.Get("Signature"), strings.ToUpper(replayBody.Get("Signature"))} {
			req := newRequest(t, "POST", f.env.URL+"/api/v1/test/api?n=1", nil)
			req.Header = replayBody.Clone()
			req.Header.Set("Signature", sig)
			st, body := f.do(t, req)
			if st != 401 || requireErrorShape(t, body) != "Signature has already been used" {
				t.Fatalf("replay: %d %v", st, body)
			}
			if ev := f.lastAudit(t); ev.Reason != "replayed request signature" {
				t.Fatalf("audit %+v", ev)
			}
		}
	})

	t.Run("huge chunked body", func(t *testing.T) {
		// No Content-Length: the limit is enforced while reading.
		req := newRequest(t, "POST", f.env.URL+"/api/v1/tpv", nil)
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(record), strings.NewReader(strings.Repeat(" ", 8192))))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authTok)
		st, body := f.do(t, req)
		if st != 413 || requireErrorShape(t, body) != "request body must be at most 4096 bytes" {
			t.Fatalf("%d %v", st, body)
		}
		if ev := f.lastAudit(t); ev.Action != "reject" || ev.Outcome != core.OutcomeFailure {
			t.Fatalf("audit %+v", ev)
		}
	})

	t.Run("other brand's code is not found", func(t *testing.T) {
		code, err := f.client(f.brand).Submit(ctx, json.RawMessage(record))
		if err != nil {
			t.Fatal(err)
		}
		other := f.newBrand(t, "", "Other Brand")
		_, err = f.client(other).SendDigital(ctx, code)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Status != 404 || e.Message != "confirmation code not found" {
			t.Fatalf("other brand: %v", err)
		}
	})

	t.Run("expired auth token", func(t *testing.T) {
		f.env.Clock.Advance(30*time.Minute + time.Second)
		s := base(nil)
		s.ts = f.now().Unix()
		st, body := f.do(t, f.build(t, s))
		if st != 401 || requireErrorShape(t, body) != "auth_token has expired" {
			t.Fatalf("%d %v", st, body)
		}
		if ev := f.lastAudit(t); ev.Reason != "expired auth token" || ev.PrincipalID != f.brand.BrandID || ev.OrgID != f.brand.OrgID {
			t.Fatalf("audit %+v", ev)
		}
	})
}

// TestFlowSigned drives every route with the SDK (signatures required).
func TestFlowSigned(t *testing.T) {
	f := start(t, tpv.DefaultConfig(), agtest.Options{ManualClock: t0})
	ctx := context.Background()
	c := f.client(f.brand)
	p, err := c.CreateProduct(ctx, sdk.Product{ProgramCode: "FIX-12", Name: "Fixed 12 months"})
	if err != nil || p.ProgramCode != "FIX-12" || !p.CreatedAt.Equal(t0) {
		t.Fatalf("create product %+v %v", p, err)
	}
	var e *sdk.Error
	if _, err := c.CreateProduct(ctx, sdk.Product{ProgramCode: "FIX-12", Name: "again"}); !errors.As(err, &e) || e.Status != 409 {
		t.Fatalf("duplicate product: %v", err)
	}
	ps, err := c.Products(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("products %+v %v", ps, err)
	}
	code, err := c.Submit(ctx, json.RawMessage(exampleRecord(t)))
	if err != nil || !regexp.MustCompile(`^\d{11}$`).MatchString(code) {
		t.Fatalf("submit %q %v", code, err)
	}
	if msg, err := c.SendDigital(ctx, code); err != nil || msg != "Digital delivery by email requested for "+code+"." {
		t.Fatalf("digital %q %v", msg, err)
	}
	if msg, err := c.QueueCall(ctx, code); err != nil || msg != "Call queued for "+code+"." {
		t.Fatalf("queue %q %v", msg, err)
	}
	if _, err := c.QueueCall(ctx, code); err != nil {
		t.Fatal(err)
	}
	echo, err := c.TestAPI(ctx, url.Values{"your": {"Parameters"}, "here": {"1"}, "multi": {"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	brand, _ := echo["brand"].(map[string]any)
	params, _ := echo["parameters"].(map[string]any)
	if echo["signed"] != true || brand["name"] != "Acme Energy" || brand["id"] != f.brand.BrandID ||
		params["your"] != "Parameters" || params["here"] != "1" || len(params["multi"].([]any)) != 2 {
		t.Fatalf("echo %v", echo)
	}
	doc, err := f.env.Svc.Store.GetDocument(ctx, tpv.CollectionRecords, code)
	if err != nil || !strings.Contains(string(doc.Data), `"call":{"status":"queued","requests":2`) || !strings.Contains(string(doc.Data), `"signed":true`) {
		t.Fatalf("record %s %v", doc.Data, err)
	}
	// GET works on the routes the vendor documents as GET.
	raw := f.build(t, signedRequest{method: "GET", path: "/api/v1/queue/call/" + code, ts: f.now().Unix(), token: mustToken(t, c), secret: f.brand.AppSecret})
	if st, body := f.do(t, raw); st != 200 {
		t.Fatalf("GET queue/call: %d %v", st, body)
	}
}

func mustToken(t *testing.T, c *sdk.Client) string {
	t.Helper()
	tok, err := c.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSignatureOptionalRoute shows the per-route switch: an unsigned call
// passes only on routes listed in signature_optional, and a Signature that
// is sent there is still checked.
func TestSignatureOptionalRoute(t *testing.T) {
	cfg := tpv.DefaultConfig()
	cfg.SignatureOptional = []string{tpv.RouteTestAPI}
	f := start(t, cfg, agtest.Options{ManualClock: t0})
	tok, err := f.client(f.brand).Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Unix()
	unsigned := signedRequest{method: "POST", path: "/api/v1/test/api", ts: now, token: tok, noSignature: true, noTimestamp: true}
	if st, body := f.do(t, f.build(t, unsigned)); st != 200 || body["signed"] != false {
		t.Fatalf("optional route: %d %v", st, body)
	}
	unsigned.path = "/api/v1/products"
	unsigned.method = "GET"
	if st, body := f.do(t, f.build(t, unsigned)); st != 401 {
		t.Fatalf("required route: %d %v", st, body)
	}
	bad := signedRequest{method: "POST", path: "/api/v1/test/api", ts: now, token: tok, secret: "wrong"}
	if st, body := f.do(t, f.build(t, bad)); st != 401 || requireErrorShape(t, body) != "Signature does not match the request" {
		t.Fatalf("bad signature on optional route: %d %v", st, body)
	}
}

func TestConfigValidate(t *testing.T) {
	c := tpv.DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.SignatureOptional = []string{"/api/v1/nope"}
	c.AuthTokenTTL = 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `unknown route "/api/v1/nope"`) || !strings.Contains(err.Error(), "auth_token_ttl") {
		t.Fatalf("validate: %v", err)
	}
}
