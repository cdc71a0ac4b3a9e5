package taap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/sdk/pop"
)

// popWorld is a TAAP server with two clients in two organisations and
// the taap-pop scheme of its module.
type popWorld struct {
	env        *agtest.Env
	sc         scheme.Scheme
	a, b       taap.ClientInfo
	aKey, bKey *pop.Builder
	aTok, bTok string
}

func newPoPWorld(t *testing.T) *popWorld {
	t.Helper()
	w := &popWorld{}
	var mod *taap.Module
	w.env = agtest.Start(t, agtest.Options{ManualClock: time.Now().Truncate(time.Second)}, func(svc core.Services) []httpapi.Module {
		mod = taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{mod}
	})
	for _, s := range mod.Schemes() {
		if s.Name() == taap.SchemePoP {
			w.sc = s
		}
	}
	if w.sc == nil || w.sc.Family() != "taap" {
		t.Fatalf("Schemes() = %v: no taap-pop scheme of family taap", mod.Schemes())
	}
	ctx := context.Background()
	for i, dst := range []*taap.ClientInfo{&w.a, &w.b} {
		key := testKeys()[i]
		info, err := taap.CreateClient(ctx, w.env.Svc, taap.ClientSpec{Name: "client " + core.NewID()[:6], PublicKeys: [][]byte{pop.PublicKeyPEM(key)}, Scope: "iot-connectivity"})
		if err != nil {
			t.Fatal(err)
		}
		*dst = info
		b := &pop.Builder{Key: key, Now: w.env.Clock.Now}
		sdk := &pop.Client{BaseURL: w.env.URL, ClientID: info.ClientID, ClientSecret: info.ClientSecret, Builder: b}
		tr, err := sdk.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			w.aKey, w.aTok = b, tr.AccessToken
		} else {
			w.bKey, w.bTok = b, tr.AccessToken
		}
	}
	if _, err := taap.AddSIM(ctx, w.env.Svc, w.a.OrgID, taap.SIM{ICCID: testICCID, MSISDN: "+14255550100", IMSI: "310260123456789"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// signed is a request to the device resource with the access token tok
// and a PoP token built by b over the parts named (values taken from the
// request, body as given).
func (w *popWorld) signed(t *testing.T, method, tok string, b *pop.Builder, body string, names ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "/iot-connectivity/v1/devices/"+testICCID, rd)
	req.RequestURI = "" // built for a client: the uri is the URL's
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if b != nil {
		var parts []pop.Part
		for _, n := range names {
			switch n {
			case pop.URI:
				parts = append(parts, pop.Part{Name: n, Value: req.URL.RequestURI()})
			case pop.Method:
				parts = append(parts, pop.Part{Name: n, Value: req.Method})
			case pop.Body:
				parts = append(parts, pop.Part{Name: n, Value: body})
			default:
				parts = append(parts, pop.Part{Name: n, Value: req.Header.Get(n)})
			}
		}
		p, err := b.Build(parts)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Authorization", p)
	}
	return req
}

var (
	withBody    = []string{"Authorization", pop.URI, pop.Method, pop.Body}
	withoutBody = []string{"Authorization", pop.URI, pop.Method}
)

func schemeReq(r *http.Request, body string, known bool) scheme.Request {
	return scheme.Request{HTTP: r, Body: []byte(body), BodyKnown: known, Addr: netip.MustParseAddr("192.0.2.9")}
}

// toServer sends a copy of r to the running server's device resource.
func (w *popWorld) toServer(t *testing.T, r *http.Request, body string) *httptest.ResponseRecorder {
	t.Helper()
	req, err := http.NewRequest(r.Method, w.env.URL+r.URL.RequestURI(), bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rec := httptest.NewRecorder()
	rec.Code = res.StatusCode
	for _, k := range []string{"WWW-Authenticate", "Retry-After", "Content-Type"} {
		if v := res.Header.Get(k); v != "" {
			rec.Header().Set(k, v)
		}
	}
	_, _ = io.Copy(rec.Body, res.Body)
	return rec
}

// TestPoPScheme is the taap-pop scheme's table: every outcome of
// Authenticate (gateway with the body, forward-auth without it), and for
// refusals TAAP's answer, which for PoPs covering the body is byte for
// byte what the connectivity resource answers to the same request (one
// verification path, authenticatePoP).
func TestPoPScheme(t *testing.T) {
	w := newPoPWorld(t)
	ctx := context.Background()
	oauth2Tok, _, err := w.env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: w.a.OrgID, PrincipalID: w.a.PrincipalID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	revoked, rt, err := w.env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenTAAP, OrgID: w.a.OrgID, PrincipalID: w.a.PrincipalID, Binding: w.a.ClientID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.env.Svc.Tokens.Revoke(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name      string
		req       func() (*http.Request, string) // request and the body sent
		known     bool                           // the body is available
		orgOf     *taap.ClientInfo               // accepted as this client; nil: refused
		status    int
		code      string
		desc      string
		sameRoute bool // the resource (which requires body) answers the same
	}{
		{name: "gateway, body signed", known: true, orgOf: &w.a,
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.aTok, w.aKey, "", withBody...), "" }},
		{name: "gateway, POST body signed", known: true, orgOf: &w.a,
			req: func() (*http.Request, string) {
				return w.signed(t, "POST", w.aTok, w.aKey, `{"a":1}`, withBody...), `{"a":1}`
			}},
		{name: "forward-auth GET, body not signed", known: false, orgOf: &w.a,
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.aTok, w.aKey, "", withoutBody...), "" }},
		{name: "another organisation's client is itself", known: true, orgOf: &w.b,
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.bTok, w.bKey, "", withBody...), "" }},
		{name: "forward-auth, PoP signs the body", known: false, status: 400, code: "invalid_request", desc: "the front end did not send",
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.aTok, w.aKey, "", withBody...), "" }},
		{name: "forward-auth POST", known: false, status: 400, code: "invalid_request", desc: "the front end did not send",
			req: func() (*http.Request, string) { return w.signed(t, "POST", w.aTok, w.aKey, "x", withoutBody...), "x" }},
		{name: "body not signed", known: true, status: 401, code: "invalid_pop_token", desc: "PoP check required_parts failed",
			req: func() (*http.Request, string) { return w.signed(t, "POST", w.aTok, w.aKey, "x", withoutBody...), "x" }},
		{name: "body swapped", known: true, status: 401, code: "invalid_pop_token", desc: "PoP check edts failed", sameRoute: true,
			req: func() (*http.Request, string) {
				return w.signed(t, "GET", w.aTok, w.aKey, "signed", withBody...), "sent"
			}},
		{name: "no access token", known: true, status: 401, code: "invalid_request", desc: "an access token is required", sameRoute: true,
			req: func() (*http.Request, string) { return w.signed(t, "GET", "", w.aKey, "", withBody...), "" }},
		{name: "no PoP", known: true, status: 401, code: "invalid_pop_token", desc: "PoP check present failed", sameRoute: true,
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.aTok, nil, ""), "" }},
		{name: "wrong access token", known: true, status: 401, code: "invalid_token", desc: "invalid token", sameRoute: true,
			req: func() (*http.Request, string) {
				return w.signed(t, "GET", core.RandomToken(32), w.aKey, "", withBody...), ""
			}},
		{name: "oauth2 access token", known: true, status: 401, code: "invalid_token", desc: "invalid token", sameRoute: true,
			req: func() (*http.Request, string) { return w.signed(t, "GET", oauth2Tok, w.aKey, "", withBody...), "" }},
		{name: "revoked access token", known: true, status: 401, code: "invalid_token", desc: "token revoked", sameRoute: true,
			req: func() (*http.Request, string) { return w.signed(t, "GET", revoked, w.aKey, "", withBody...), "" }},
		{name: "PoP by another client's key", known: true, status: 401, code: "invalid_pop_token", desc: "PoP check signature failed", sameRoute: true,
			req: func() (*http.Request, string) { return w.signed(t, "GET", w.aTok, w.bKey, "", withBody...), "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req()
			if want := r.Header.Get("Authorization") != "" && r.Header.Get("X-Authorization") != ""; w.sc.Presented(r) != want {
				t.Fatalf("Presented = %v", w.sc.Presented(r))
			}
			c, err := w.sc.Authenticate(ctx, schemeReq(r, body, tc.known))
			if tc.orgOf != nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Scheme != "taap-pop" || c.Family != "taap" || c.OrgID != tc.orgOf.OrgID || c.PrincipalID != tc.orgOf.PrincipalID ||
					c.Kind != core.PrincipalApplication || c.Subject != tc.orgOf.ClientID || c.Scope != "iot-connectivity" || c.CredentialID == "" || c.ExpiresAt.IsZero() {
					t.Fatalf("caller = %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			rec := httptest.NewRecorder()
			w.sc.WriteRefusal(rec, r, err)
			res := result{status: rec.Code, challenge: rec.Header().Get("WWW-Authenticate")}
			if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
				t.Fatal(err)
			}
			if res.status != tc.status || res.code() != tc.code || !strings.Contains(res.desc(), tc.desc) {
				t.Fatalf("refusal %d %v, want %d %s %q", res.status, res.body, tc.status, tc.code, tc.desc)
			}
			if tc.status == 401 && res.challenge == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tc.sameRoute {
				route := w.toServer(t, r, body)
				if route.Code != rec.Code || route.Header().Get("WWW-Authenticate") != rec.Header().Get("WWW-Authenticate") || route.Body.String() != rec.Body.String() {
					t.Fatalf("the scheme and the resource disagree:\nscheme %d %q %s\nroute  %d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body,
						route.Code, route.Header().Get("WWW-Authenticate"), route.Body)
				}
			}
		})
	}
}

// TestPoPSchemeExpired: an access token past its life is refused, however
// fresh the PoP.
func TestPoPSchemeExpired(t *testing.T) {
	w := newPoPWorld(t)
	w.env.Clock.Advance(2 * time.Hour)
	_, err := w.sc.Authenticate(context.Background(), schemeReq(w.signed(t, "GET", w.aTok, w.aKey, "", withBody...), "", true))
	if core.KindOf(err) != core.KindExpired {
		t.Fatalf("err = %v, want expired", err)
	}
}

// TestPoPSchemeNeedsBody: the body is asked for when the PoP's ehts names
// it or the request has (or by its method may have) one.
func TestPoPSchemeNeedsBody(t *testing.T) {
	w := newPoPWorld(t)
	for _, tc := range []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"GET, ehts without body", w.signed(t, "GET", w.aTok, w.aKey, "", withoutBody...), false},
		{"GET, ehts with body", w.signed(t, "GET", w.aTok, w.aKey, "", withBody...), true},
		{"POST, ehts without body", w.signed(t, "POST", w.aTok, w.aKey, "", withoutBody...), true},
		{"GET with a declared body", func() *http.Request {
			r := w.signed(t, "GET", w.aTok, w.aKey, "abc", withoutBody...)
			r.ContentLength = 3
			return r
		}(), true},
		{"GET, chunked", func() *http.Request {
			r := w.signed(t, "GET", w.aTok, w.aKey, "", withoutBody...)
			r.Header.Set("Transfer-Encoding", "chunked")
			return r
		}(), true},
		{"GET, PoP not a JWS", func() *http.Request {
			r := w.signed(t, "GET", w.aTok, nil, "")
			r.Header.Set("X-Authorization", "not.a-jws")
			return r
		}(), false},
	} {
		if got := w.sc.NeedsBody(tc.req); got != tc.want {
			t.Errorf("%s: NeedsBody = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPoPSchemeReplay: a PoP is spent by its first use whichever path
// checks it: the scheme then the resource, the resource then the scheme.
func TestPoPSchemeReplay(t *testing.T) {
	w := newPoPWorld(t)
	ctx := context.Background()
	r := w.signed(t, "GET", w.aTok, w.aKey, "", withBody...)
	c, err := w.sc.Authenticate(ctx, schemeReq(r, "", true))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reusable { // a front end must never keep a PoP acceptance (forward-auth cache)
		t.Fatal("a PoP acceptance is marked reusable")
	}
	_, err = w.sc.Authenticate(ctx, schemeReq(r, "", true))
	var ce *taap.CheckError
	if !errors.As(err, &ce) || ce.Check != taap.CheckReplay || core.KindOf(err) != core.KindReplayed {
		t.Fatalf("replay through the scheme: %v", err)
	}
	if rec := w.toServer(t, r, ""); rec.Code != 401 || !strings.Contains(rec.Body.String(), "PoP check jti failed") {
		t.Fatalf("replay at the resource: %d %s", rec.Code, rec.Body)
	}
	r2 := w.signed(t, "GET", w.aTok, w.aKey, "", withBody...)
	if rec := w.toServer(t, r2, ""); rec.Code != 200 {
		t.Fatalf("resource: %d %s", rec.Code, rec.Body)
	}
	if _, err := w.sc.Authenticate(ctx, schemeReq(r2, "", true)); !errors.As(err, &ce) || ce.Check != taap.CheckReplay {
		t.Fatalf("a PoP spent at the resource, through the scheme: %v", err)
	}
}

// TestPoPSchemeRefusalGolden pins TAAP's shape of the forward-auth refusal
// of a request whose PoP signs the body the front end did not send.
func TestPoPSchemeRefusalGolden(t *testing.T) {
	w := newPoPWorld(t)
	r := w.signed(t, "GET", w.aTok, w.aKey, "", withBody...)
	_, err := w.sc.Authenticate(context.Background(), schemeReq(r, "", false))
	rec := httptest.NewRecorder()
	w.sc.WriteRefusal(rec, r, err)
	golden(t, "scheme_body_unavailable.http", []byte("HTTP "+strconv.Itoa(rec.Code)+"\nContent-Type: "+rec.Header().Get("Content-Type")+"\n\n"+rec.Body.String()))
}

// TestPoPSchemeStripCredentials: the upstream gets neither the access
// token nor the PoP; the body is left as it was.
func TestPoPSchemeStripCredentials(t *testing.T) {
	w := newPoPWorld(t)
	r := w.signed(t, "POST", w.aTok, w.aKey, "b", withBody...)
	r.Header.Set("X-Other", "kept")
	if got := w.sc.StripCredentials(r, []byte("b")); string(got) != "b" || r.Header.Get("Authorization") != "" || r.Header.Get("X-Authorization") != "" || r.Header.Get("X-Other") != "kept" {
		t.Fatalf("after StripCredentials: %v %q", r.Header, got)
	}
}

// TestAttack_PoPScheme: a PoP claiming body under another case, a PoP
// over the size bound, a body over the bound, another client's key on a
// token, and the audit of failures.
func TestAttack_PoPScheme(t *testing.T) {
	w := newPoPWorld(t)
	ctx := context.Background()
	t.Run("ehts Body is a header, not the body", func(t *testing.T) {
		r := w.signed(t, "GET", w.aTok, w.aKey, "", "Authorization", pop.URI, pop.Method, "Body")
		if w.sc.NeedsBody(r) {
			t.Fatal("NeedsBody for a header named Body")
		}
		if _, err := w.sc.Authenticate(ctx, schemeReq(r, "", false)); err == nil {
			t.Fatal("accepted a PoP naming a header the request does not carry")
		}
	})
	t.Run("huge PoP", func(t *testing.T) {
		r := w.signed(t, "GET", w.aTok, nil, "")
		r.Header.Set("X-Authorization", strings.Repeat("A", taap.MaxTokenBytes+1))
		if w.sc.NeedsBody(r) {
			t.Fatal("NeedsBody read a PoP over the bound")
		}
		var ce *taap.CheckError
		if _, err := w.sc.Authenticate(ctx, schemeReq(r, "", true)); !errors.As(err, &ce) || ce.Check != taap.CheckFormat {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("body over max_body_bytes", func(t *testing.T) {
		big := strings.Repeat("x", int(taap.DefaultConfig().MaxBodyBytes)+1)
		r := w.signed(t, "POST", w.aTok, w.aKey, big, withBody...)
		rec := httptest.NewRecorder()
		_, err := w.sc.Authenticate(ctx, schemeReq(r, big, true))
		w.sc.WriteRefusal(rec, r, err)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("another client's key on b's token", func(t *testing.T) {
		// Client b's token with a PoP by a's key is refused on the
		// signature before any jti is spent; b's own PoP still passes.
		r := w.signed(t, "GET", w.bTok, w.aKey, "", withBody...)
		if _, err := w.sc.Authenticate(ctx, schemeReq(r, "", true)); err == nil {
			t.Fatal("b's token accepted with a's PoP")
		}
		if _, err := w.sc.Authenticate(ctx, schemeReq(w.signed(t, "GET", w.bTok, w.bKey, "", withBody...), "", true)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failures audited with the scheme request's address", func(t *testing.T) {
		_, _ = w.sc.Authenticate(ctx, schemeReq(w.signed(t, "GET", "forged", w.aKey, "", withBody...), "", true))
		evs, err := w.env.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "taap"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.RemoteAddr == "192.0.2.9" {
				return
			}
		}
		t.Fatal("no failure audited from 192.0.2.9")
	})
}
