package oauth2_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/scheme"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// bearerWorld is a server with an admin, a user of another organisation
// and the oauth2-bearer scheme of its module.
type bearerWorld struct {
	*env
	sc                scheme.Scheme
	adminTok, userTok string
	userRefresh       string
	userOrg, userID   string
}

func newBearerWorld(t *testing.T) *bearerWorld {
	t.Helper()
	e := start(t, agtest.Options{}, true, nil)
	w := &bearerWorld{env: e}
	for _, s := range e.mod.Schemes() {
		if s.Name() == oauth2.SchemeBearer {
			w.sc = s
		}
	}
	if w.sc == nil || w.sc.Family() != "oauth2" {
		t.Fatalf("Schemes() = %v: no oauth2-bearer scheme of family oauth2", e.mod.Schemes())
	}
	w.adminTok, _ = e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(w.adminTok, "Other Org")
	w.userTok, w.userRefresh = e.passwordGrant(key, secret)
	c, err := w.sc.Authenticate(context.Background(), w.req(bearer(w.userTok), nil))
	if err != nil {
		t.Fatal(err)
	}
	w.userOrg, w.userID = c.OrgID, c.PrincipalID
	return w
}

// req builds the scheme request of GET /accesskeys with header h, over a
// TLS connection presenting cert when cert is not nil.
func (w *bearerWorld) req(h map[string]string, cert *x509.Certificate) scheme.Request {
	r := httptest.NewRequest(http.MethodGet, "/accesskeys", nil)
	for k, v := range h {
		r.Header.Set(k, v)
	}
	r.TLS = nil
	if cert != nil {
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	return scheme.Request{HTTP: r, BodyKnown: true, Addr: netip.MustParseAddr("192.0.2.7")}
}

// issue stores an access token for the user with spec's overrides.
func (w *bearerWorld) issue(t *testing.T, tweak func(*core.TokenSpec)) string {
	t.Helper()
	spec := core.TokenSpec{Kind: core.TokenAccess, OrgID: w.userOrg, PrincipalID: w.userID, PrincipalKind: core.PrincipalUser, TTL: time.Hour}
	if tweak != nil {
		tweak(&spec)
	}
	v, _, err := w.Svc.Tokens.Issue(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// selfSigned is a client certificate no CA issued (the binding compares
// thumbprints; the listener's chain check is not the scheme's).
func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: epoch.Add(-time.Hour), NotAfter: epoch.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refusal is what a scheme or a route wrote for a refused request.
type refusal struct {
	status           int
	challenge, retry string
	body             string
}

func recorded(rec *httptest.ResponseRecorder) refusal {
	return refusal{status: rec.Code, challenge: rec.Header().Get("WWW-Authenticate"), retry: rec.Header().Get("Retry-After"), body: rec.Body.String()}
}

// TestBearerScheme is the oauth2-bearer scheme's table: every outcome of
// Authenticate, and for refusals the RFC 6750 answer WriteRefusal writes,
// which must be byte for byte what the built-in bearer route
// (GET /accesskeys) answers to the same request: one verification path.
func TestBearerScheme(t *testing.T) {
	w := newBearerWorld(t)
	certA, certB := selfSigned(t, "a"), selfSigned(t, "b")
	expiring := w.issue(t, func(s *core.TokenSpec) { s.TTL = time.Minute })
	revoked := w.issue(t, nil)
	if r := w.do("POST", "/oauth/revoke", with(formHeader(), "Authorization", "Bearer "+w.adminTok), url.Values{"token": {revoked}}.Encode()); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	bound := w.issue(t, func(s *core.TokenSpec) { s.CertThumbprint = core.CertThumbprint(certA.Raw) })
	taapTok := w.issue(t, func(s *core.TokenSpec) { s.Kind = core.TokenTAAP })
	device := w.issue(t, func(s *core.TokenSpec) { s.PrincipalKind = core.PrincipalDevice })
	w.Clock.Advance(2 * time.Minute) // expiring is now expired; the others live an hour

	cases := []struct {
		name   string
		header map[string]string
		cert   *x509.Certificate
		kind   core.PrincipalKind // "" : refused
		status int
		code   string
		desc   string
		bare   bool
	}{
		{name: "valid", header: bearer(w.userTok), kind: core.PrincipalUser},
		{name: "valid lower-case scheme", header: map[string]string{"Authorization": "bearer " + w.userTok}, kind: core.PrincipalUser},
		{name: "valid admin", header: bearer(w.adminTok), kind: core.PrincipalAdmin},
		{name: "device kind is the token's", header: bearer(device), kind: core.PrincipalDevice},
		{name: "bound with its certificate", header: bearer(bound), cert: certA, kind: core.PrincipalUser},
		{name: "missing", status: 401, code: "invalid_request", desc: "an access token is required", bare: true},
		{name: "basic instead", header: map[string]string{"Authorization": "Basic " + b64("a:b")}, status: 401, code: "invalid_request", bare: true},
		{name: "empty bearer", header: map[string]string{"Authorization": "Bearer "}, status: 401, code: "invalid_request", desc: "malformed Authorization header"},
		{name: "two values", header: map[string]string{"Authorization": "Bearer a b"}, status: 401, code: "invalid_request", desc: "malformed Authorization header"},
		{name: "huge", header: bearer(strings.Repeat("A", core.MaxBearerLen+1)), status: 401, code: "invalid_request", desc: "malformed Authorization header"},
		{name: "wrong", header: bearer(core.RandomToken(32)), status: 401, code: "invalid_token", desc: "invalid token"},
		{name: "refresh token as bearer", header: bearer(w.userRefresh), status: 401, code: "invalid_token", desc: "invalid token"},
		{name: "taap token", header: bearer(taapTok), status: 401, code: "invalid_token", desc: "invalid token"},
		{name: "revoked", header: bearer(revoked), status: 401, code: "invalid_token", desc: "token revoked"},
		{name: "expired", header: bearer(expiring), status: 401, code: "invalid_token", desc: "token expired"},
		{name: "bound without certificate", header: bearer(bound), status: 401, code: "invalid_token", desc: "present it over mutual TLS"},
		{name: "bound with another certificate", header: bearer(bound), cert: certB, status: 401, code: "invalid_token", desc: "bound to another client certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := w.req(tc.header, tc.cert)
			if got := w.sc.Presented(req.HTTP); got != (tc.header["Authorization"] != "" && strings.HasPrefix(strings.ToLower(tc.header["Authorization"]), "bearer")) {
				t.Fatalf("Presented = %v", got)
			}
			if w.sc.NeedsBody(req.HTTP) {
				t.Fatal("NeedsBody: a bearer token signs no body")
			}
			c, err := w.sc.Authenticate(context.Background(), req)
			if tc.kind != "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Scheme != "oauth2-bearer" || c.Family != "oauth2" || c.Kind != tc.kind || c.OrgID == "" || c.PrincipalID == "" ||
					c.Subject != c.PrincipalID || c.CredentialID == "" || c.ExpiresAt.IsZero() {
					t.Fatalf("caller = %+v", c)
				}
				// A bearer acceptance may be reused (forward-auth cache),
				// except a certificate-bound token's: the binding is the connection's.
				if c.Reusable != (tc.cert == nil) {
					t.Fatalf("Reusable = %v for a token bound to %v", c.Reusable, tc.cert != nil)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *core.Error", err, err)
			}
			rec := httptest.NewRecorder()
			w.sc.WriteRefusal(rec, req.HTTP, err)
			got := recorded(rec)
			checkError(t, resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}, tc.status, tc.code, tc.desc, "Bearer")
			if tc.bare != (got.challenge == `Bearer realm="authgate"`) {
				t.Fatalf("WWW-Authenticate = %q (bare challenge expected: %v)", got.challenge, tc.bare)
			}
			if tc.cert != nil {
				return // the test server is plain HTTP: no client certificate to compare with
			}
			route := w.do("GET", "/accesskeys", tc.header, "")
			want := refusal{status: route.Status, challenge: route.Header.Get("WWW-Authenticate"), retry: route.Header.Get("Retry-After"), body: string(route.Body)}
			if got != want {
				t.Fatalf("the scheme and the built-in route disagree:\nscheme %+v\nroute  %+v", got, want)
			}
		})
	}
}

// TestBearerSchemeRefusalGolden pins the RFC 6750 shapes of the built-in
// bearer route's refusals (status, challenge, body) in golden files; the
// scheme writes the same bytes (TestBearerScheme).
func TestBearerSchemeRefusalGolden(t *testing.T) {
	e := start(t, agtest.Options{}, true, nil)
	n := &normaliser{repl: map[string]string{e.URL: "http://localhost:8080"}, count: map[string]int{}}
	render := func(r resp) string {
		return "WWW-Authenticate: " + r.Header.Get("WWW-Authenticate") + "\n" + n.render(r)
	}
	golden(t, "bearer_refusal_missing", render(e.do("GET", "/accesskeys", nil, "")))
	golden(t, "bearer_refusal_malformed", render(e.do("GET", "/accesskeys", map[string]string{"Authorization": "Bearer a b"}, "")))
	golden(t, "bearer_refusal_invalid", render(e.do("GET", "/accesskeys", bearer("not-a-token"), "")))
}

// TestBearerSchemeStripCredentials: the upstream gets no Authorization
// header; everything else and the body are left as they were.
func TestBearerSchemeStripCredentials(t *testing.T) {
	w := newBearerWorld(t)
	out := httptest.NewRequest(http.MethodPost, "/x?a=1", strings.NewReader("body"))
	out.Header.Set("Authorization", "Bearer "+w.userTok)
	out.Header.Set("X-Other", "kept")
	body := []byte("body")
	got := w.sc.StripCredentials(out, body)
	if out.Header.Get("Authorization") != "" || out.Header.Get("X-Other") != "kept" || string(got) != "body" || out.URL.RawQuery != "a=1" {
		t.Fatalf("after StripCredentials: header %v, query %q, body %q", out.Header, out.URL.RawQuery, got)
	}
	if b, _ := io.ReadAll(out.Body); string(b) != "body" {
		t.Fatalf("the request body was consumed: %q", b)
	}
}

// TestAttack_BearerScheme: credentials where the scheme must not look for
// them, a TAAP PoP request, a token whose holder is gone, and an access
// token of one organisation always authenticating as that organisation.
func TestAttack_BearerScheme(t *testing.T) {
	w := newBearerWorld(t)
	ctx := context.Background()
	t.Run("token in the query is not a credential", func(t *testing.T) {
		req := w.req(nil, nil)
		req.HTTP.URL.RawQuery = "access_token=" + url.QueryEscape(w.userTok)
		if w.sc.Presented(req.HTTP) {
			t.Fatal("presented")
		}
		if _, err := w.sc.Authenticate(ctx, req); !errors.Is(err, core.ErrBearerMissing) {
			t.Fatalf("err = %v, want ErrBearerMissing", err)
		}
	})
	t.Run("token in X-Authorization is not a credential", func(t *testing.T) {
		if _, err := w.sc.Authenticate(ctx, w.req(map[string]string{"X-Authorization": "Bearer " + w.userTok}, nil)); !errors.Is(err, core.ErrBearerMissing) {
			t.Fatalf("err = %v, want ErrBearerMissing", err)
		}
	})
	t.Run("a TAAP Bearer + PoP request is not claimed", func(t *testing.T) {
		if w.sc.Presented(w.req(with(bearer(w.userTok), "X-Authorization", "eyJ.e30.sig"), nil).HTTP) {
			t.Fatal("oauth2-bearer claims a request carrying a PoP token")
		}
	})
	t.Run("holder gone", func(t *testing.T) {
		ghost := w.issue(t, func(s *core.TokenSpec) { s.PrincipalKind, s.PrincipalID = "", core.NewID() })
		_, err := w.sc.Authenticate(ctx, w.req(bearer(ghost), nil))
		if core.KindOf(err) != core.KindUnauthenticated {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("another organisation's token is that organisation's", func(t *testing.T) {
		c, err := w.sc.Authenticate(ctx, w.req(bearer(w.adminTok), nil))
		if err != nil || c.OrgID == w.userOrg || c.OrgID != core.SystemOrgID {
			t.Fatalf("admin token: %+v %v", c, err)
		}
		// On the built-in route, the user cannot address the admin's key.
		if r := w.do("GET", "/accesskeys/"+w.Admin.Key, bearer(w.userTok), ""); r.Status != 404 {
			t.Fatalf("user reads the admin's key: %d %s", r.Status, r.Body)
		}
	})
	t.Run("failures are audited with the address", func(t *testing.T) {
		_, _ = w.sc.Authenticate(ctx, w.req(bearer("forged-"+core.RandomToken(8)), nil))
		evs, err := w.Svc.Store.ListAudit(ctx, core.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Action == core.AuditAuthFailure && e.Protocol == "oauth2" && e.RemoteAddr == "192.0.2.7" && strings.HasPrefix(e.Reason, "bearer: ") {
				return
			}
		}
		t.Fatal("no audited failure from 192.0.2.7")
	})
}
