package tpv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// schemeFixture serves the TPV module and keeps its scheme, to drive it
// the way the gateway and forward-auth do (scheme.Request, no handler).
type schemeFixture struct {
	*fixture
	sc    scheme.Scheme
	token string // the brand's auth_token
}

var clientIP = netip.MustParseAddr("203.0.113.9")

func startScheme(t *testing.T, cfg tpv.Config) *schemeFixture {
	t.Helper()
	var mod *tpv.Module
	env := agtest.Start(t, agtest.Options{ManualClock: t0}, func(svc core.Services) []httpapi.Module {
		mod = tpv.New(cfg, tpv.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{mod}
	})
	f := &fixture{env: env, cfg: cfg, clients: map[string]*sdk.Client{}}
	f.brand = f.newBrand(t, "", "Acme Energy")
	schemes := mod.Schemes()
	if len(schemes) != 1 || schemes[0].Name() != tpv.SchemeName || schemes[0].Family() != "tpv" {
		t.Fatalf("schemes %v", schemes)
	}
	tok, err := f.client(f.brand).Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &schemeFixture{fixture: f, sc: schemes[0], token: tok}
}

// signed builds a request signed with secret over signBody (nil: body),
// carrying body, at the fixture's time minus back seconds.
type signedReq struct {
	method, target string
	body, signBody []byte
	token, secret  string
	back           int64
	unsigned       bool
}

func (f *schemeFixture) request(t *testing.T, s signedReq) *http.Request {
	t.Helper()
	r := httptest.NewRequest(s.method, "https://gw.example"+s.target, bytes.NewReader(s.body))
	if s.token != "" {
		r.Header.Set("Authorization", s.token)
	}
	if s.unsigned {
		return r
	}
	u, _ := url.Parse(s.target)
	ts := strconv.FormatInt(f.now().Unix()-s.back, 10)
	signBody := s.body
	if s.signBody != nil {
		signBody = s.signBody
	}
	sig, err := sdk.RequestSignature(s.secret, s.method, u, ts, signBody, s.token)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(sdk.HeaderTimestamp, ts)
	r.Header.Set(sdk.HeaderSignature, sig)
	return r
}

func (f *schemeFixture) auth(r *http.Request, body []byte, known bool) (scheme.Caller, error) {
	return f.sc.Authenticate(context.Background(), scheme.Request{HTTP: r, Body: body, BodyKnown: known, Addr: clientIP})
}

// refusal writes err with the scheme's WriteRefusal and returns status and message.
func (f *schemeFixture) refusal(t *testing.T, r *http.Request, err error) (int, string, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	f.sc.WriteRefusal(w, r, err)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("refusal not JSON: %q", w.Body.String())
	}
	return w.Code, requireErrorShape(t, m), w.Header()
}

// TestScheme drives tpv-signature directly: the caller it yields, the
// Signature rule per path (TPV routes follow signature_optional, any
// other path behind the gateway requires it), and its refusals in the
// TPV {"error"} shape.
func TestScheme(t *testing.T) {
	cfg := tpv.DefaultConfig()
	cfg.SignatureOptional = []string{tpv.RouteTestAPI}
	f := startScheme(t, cfg)
	record := exampleRecord(t)
	cases := []struct {
		name   string
		req    signedReq
		status int    // 0: authenticated
		msg    string // refusal message
	}{
		{"signed sale", signedReq{method: "POST", target: "/api/v1/tpv", body: record}, 0, ""},
		{"signed upstream path", signedReq{method: "PUT", target: "/orders/42?b=2&a=1", body: []byte(`{"qty":1}`), back: 1}, 0, ""},
		{"signed GET, no body", signedReq{method: "GET", target: "/reports?month=2025-03", back: 2}, 0, ""},
		{"unsigned optional route", signedReq{method: "POST", target: "/api/v1/test/api", unsigned: true}, 0, ""},
		{"unsigned upstream path", signedReq{method: "GET", target: "/orders/42", unsigned: true}, 401, "Signature header must be given"},
		{"unsigned required route", signedReq{method: "POST", target: "/api/v1/tpv", body: record, unsigned: true}, 401, "Signature header must be given"},
		{"no token", signedReq{method: "GET", target: "/orders/42", token: "-", unsigned: true}, 401, "Authorization header must carry the auth_token"},
		{"unknown token", signedReq{method: "GET", target: "/orders/42", token: "bogus", back: 3}, 401, "auth_token is not valid"},
		{"wrong secret", signedReq{method: "GET", target: "/orders/42", secret: "wrong", back: 4}, 401, "Signature does not match the request"},
		{"stale", signedReq{method: "GET", target: "/orders/42", back: 301}, 400, "X-TPV-Timestamp header is too old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.req
			switch s.token {
			case "":
				s.token = f.token
			case "-":
				s.token = ""
			}
			if s.secret == "" {
				s.secret = f.brand.AppSecret
			}
			r := f.request(t, s)
			before := f.auditCount(t)
			c, err := f.auth(r, s.body, true)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := scheme.Caller{Scheme: "tpv-signature", Family: "tpv", OrgID: f.brand.OrgID, PrincipalID: f.brand.BrandID,
					Kind: core.PrincipalApplication, Subject: "Acme Energy", CredentialID: c.CredentialID, ExpiresAt: t0.Add(30 * time.Minute)}
				if c != want || c.CredentialID == "" || c.CredentialID == f.token {
					t.Fatalf("caller %+v, want %+v", c, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("authenticated %+v, want %d %q", c, tc.status, tc.msg)
			}
			st, msg, h := f.refusal(t, r, err)
			if st != tc.status || msg != tc.msg {
				t.Fatalf("refusal %d %q, want %d %q", st, msg, tc.status, tc.msg)
			}
			if st == 401 && h.Get("WWW-Authenticate") != `TPV realm="authgate"` {
				t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if f.auditCount(t) != before+1 {
				t.Fatal("refusal not audited")
			}
			if ev := f.lastAudit(t); ev.Action != core.AuditAuthFailure || ev.RemoteAddr != clientIP.String() {
				t.Fatalf("audit %+v", ev)
			}
		})
	}
}

func TestSchemePresentedNeedsBodyStrip(t *testing.T) {
	f := startScheme(t, tpv.DefaultConfig())
	for _, tc := range []struct {
		name            string
		method          string
		headers         map[string]string
		contentLength   int64
		presented, body bool
	}{
		{"bare token", "GET", map[string]string{"Authorization": "tok"}, 0, true, false},
		{"bare token + Signature on POST", "POST", map[string]string{"Authorization": "tok", "Signature": "ab"}, 3, true, true},
		{"Signature on POST without length", "POST", map[string]string{"Signature": "ab"}, 0, true, true},
		{"Signature on GET", "GET", map[string]string{"Authorization": "tok", "Signature": "ab"}, 0, true, false},
		{"Signature on GET with a body", "GET", map[string]string{"Authorization": "tok", "Signature": "ab"}, 7, true, true},
		{"unsigned POST", "POST", map[string]string{"Authorization": "tok"}, 3, true, false},
		{"OAuth2 bearer", "GET", map[string]string{"Authorization": "Bearer abc"}, 0, false, false},
		{"Basic", "POST", map[string]string{"Authorization": "Basic abc"}, 3, false, false},
		{"nothing", "GET", nil, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/x", nil)
			r.ContentLength = tc.contentLength
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := f.sc.Presented(r); got != tc.presented {
				t.Fatalf("Presented %v", got)
			}
			if got := f.sc.NeedsBody(r); got != tc.body {
				t.Fatalf("NeedsBody %v", got)
			}
		})
	}
	out := httptest.NewRequest("POST", "/x", nil)
	for k, v := range map[string]string{"Authorization": "tok", "Signature": "ab", "X-TPV-Timestamp": "1", "Content-Type": "application/json", "Accept": "application/json"} {
		out.Header.Set(k, v)
	}
	body := []byte(`{"a":1}`)
	if got := f.sc.StripCredentials(out, body); !bytes.Equal(got, body) {
		t.Fatalf("body changed: %q", got)
	}
	if len(out.Header) != 2 || out.Header.Get("Content-Type") == "" || out.Header.Get("Accept") == "" {
		t.Fatalf("stripped headers %v", out.Header)
	}
}

// TestAttack_TPVSchemeReplay: a signed request is good once, through the
// scheme as through the built-in routes; flipping the hex case is the
// same signature.
func TestAttack_TPVSchemeReplay(t *testing.T) {
	f := startScheme(t, tpv.DefaultConfig())
	s := signedReq{method: "POST", target: "/orders", body: []byte(`{"qty":1}`), token: f.token, secret: f.brand.AppSecret}
	r := f.request(t, s)
	if c, err := f.auth(r, s.body, true); err != nil || c.Reusable { // never kept by a front end's cache
		t.Fatalf("%+v %v", c, err)
	}
	for _, upper := range []bool{false, true} {
		again := r.Clone(context.Background())
		if upper {
			again.Header.Set("Signature", string(bytes.ToUpper([]byte(r.Header.Get("Signature")))))
		}
		_, err := f.auth(again, s.body, true)
		if core.KindOf(err) != core.KindReplayed {
			t.Fatalf("replay (upper %v): %v", upper, err)
		}
		if st, msg, _ := f.refusal(t, again, err); st != 401 || msg != "Signature has already been used" {
			t.Fatalf("replay refusal %d %q", st, msg)
		}
	}
}

// TestAttack_TPVSchemeOtherBrand: another organisation's auth_token
// cannot be used with this brand's signature (nor the reverse), and a
// request signed entirely as the other brand authenticates as the other
// brand, never as this one.
func TestAttack_TPVSchemeOtherBrand(t *testing.T) {
	f := startScheme(t, tpv.DefaultConfig())
	other := f.newBrand(t, "", "Other Energy")
	otherTok, err := f.client(other).Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []signedReq{
		{token: otherTok, secret: f.brand.AppSecret},
		{token: f.token, secret: other.AppSecret},
	} {
		s.method, s.target, s.back = "GET", "/orders/42", int64(i)
		if _, err := f.auth(f.request(t, s), nil, true); core.KindOf(err) != core.KindUnauthenticated {
			t.Fatalf("mixed credentials %d: %v", i, err)
		}
	}
	c, err := f.auth(f.request(t, signedReq{method: "GET", target: "/orders/42", token: otherTok, secret: other.AppSecret, back: 5}), nil, true)
	if err != nil || c.OrgID != other.OrgID || c.PrincipalID != other.BrandID || c.OrgID == f.brand.OrgID {
		t.Fatalf("other brand: %+v %v", c, err)
	}
}

// TestAttack_TPVSchemeTamperedBody: the Signature covers the body's
// SHA-256, so a body changed on the way (or swapped for another that was
// never signed) is refused.
func TestAttack_TPVSchemeTamperedBody(t *testing.T) {
	f := startScheme(t, tpv.DefaultConfig())
	for i, tc := range []struct{ signed, sent string }{
		{`{"amount":1}`, `{"amount":100}`},
		{`{"amount":1}`, ``},
		{``, `{"amount":1}`},
	} {
		s := signedReq{method: "POST", target: "/payments", body: []byte(tc.sent), signBody: []byte(tc.signed), token: f.token, secret: f.brand.AppSecret, back: int64(i)}
		if tc.signed == "" {
			s.signBody = []byte{}
		}
		_, err := f.auth(f.request(t, s), s.body, true)
		if core.KindOf(err) != core.KindUnauthenticated || core.ReasonOf(err) != "Signature does not match the request" {
			t.Fatalf("%q signed, %q sent: %v", tc.signed, tc.sent, err)
		}
	}
}

// TestAttack_TPVSchemeBodyUnavailable: in forward-auth mode without the
// body, a signed request with a body-carrying method is refused with
// scheme.BodyUnavailable, never passed on the strength of the headers; the
// refusal spends nothing (the same request with its body then passes).
// A signed GET needs no body and passes.
func TestAttack_TPVSchemeBodyUnavailable(t *testing.T) {
	f := startScheme(t, tpv.DefaultConfig())
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			body := []byte(`{"qty":` + strconv.Itoa(len(method)) + `}`)
			r := f.request(t, signedReq{method: method, target: "/orders", body: body, token: f.token, secret: f.brand.AppSecret, back: int64(len(method))})
			before := f.auditCount(t)
			_, err := f.auth(r, nil, false)
			if err == nil || core.ReasonOf(err) != core.ReasonOf(scheme.BodyUnavailable()) {
				t.Fatalf("without body: %v", err)
			}
			if st, msg, _ := f.refusal(t, r, err); st != 400 || msg != core.ReasonOf(scheme.BodyUnavailable()) {
				t.Fatalf("refusal %d %q", st, msg)
			}
			if f.auditCount(t) != before+1 || f.lastAudit(t).Action != core.AuditAuthFailure {
				t.Fatal("not audited")
			}
			if _, err := f.auth(r, body, true); err != nil {
				t.Fatalf("with the body afterwards: %v", err)
			}
		})
	}
	get := f.request(t, signedReq{method: "GET", target: "/orders?x=1", token: f.token, secret: f.brand.AppSecret, back: 20})
	if _, err := f.auth(get, nil, false); err != nil {
		t.Fatalf("signed GET without body: %v", err)
	}
}

// BenchmarkSchemeAuthenticate is the cost of one tpv-signature check as
// the gateway runs it (no HTTP): token lookup, HMAC, replay insert.
func BenchmarkSchemeAuthenticate(b *testing.B) {
	var mod *tpv.Module
	env := agtest.Start(b, agtest.Options{ManualClock: t0}, func(svc core.Services) []httpapi.Module {
		mod = tpv.New(tpv.DefaultConfig(), tpv.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{mod}
	})
	f := &fixture{env: env, clients: map[string]*sdk.Client{}}
	brand := f.newBrand(b, "", "Acme Energy")
	tok, err := f.client(brand).Login(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	sc := mod.Schemes()[0]
	body := []byte(`{"qty":1}`)
	ts := strconv.FormatInt(t0.Unix(), 10)
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		target := "/orders?n=" + strconv.Itoa(i)
		u, _ := url.Parse(target)
		sig, err := sdk.RequestSignature(brand.AppSecret, "POST", u, ts, body, tok)
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest("POST", "https://gw.example"+target, nil)
		r.Header.Set("Authorization", tok)
		r.Header.Set(sdk.HeaderTimestamp, ts)
		r.Header.Set(sdk.HeaderSignature, sig)
		reqs[i] = r
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := sc.Authenticate(ctx, scheme.Request{HTTP: reqs[i], Body: body, BodyKnown: true, Addr: clientIP}); err != nil {
			b.Fatal(err)
		}
	}
}
