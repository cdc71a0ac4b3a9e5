package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/subscription"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdkaps "github.com/authgate/authgate/sdk/apstrata"
	sdkm2m "github.com/authgate/authgate/sdk/m2m"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// familyProbe is one request of a family that needs the database, and
// what its family's error shape looks like for an unavailable database.
type familyProbe struct {
	family string // the family probed; "" for a service of every family
	name   string
	send   func() reply
	// shape reports whether a 503 body is in the family's own error shape.
	shape func(r reply) bool
}

// TestEveryFamilyAnswersOutageWith503 stops PostgreSQL under a node
// serving every family on its main listener (OAuth2 and its bearer
// routes, TPV, Apstrata, TAAP, the CA and the subscription admin API) and
// an M2M environment on its own HTTPS listener. While it is down each
// family answers 503 with Retry-After in its own error shape (M2M: a
// soap:Server Fault), never 500; once it is back each serves again
// without a restart.
func TestEveryFamilyAnswersOutageWith503(t *testing.T) {
	pg := startPrivatePostgres(t)
	ctx := context.Background()
	e := agtest.Start(t, agtest.Options{PostgresDSN: pg.dsn()}, func(svc core.Services) []httpapi.Module {
		addr := httpapi.ClientAddr{}
		cfg := harnessConfig()
		subs := subscription.New(subscription.DefaultConfig(), svc.Store, svc.Clock, svc.Audit)
		built := familyBuild(t, svc, &cfg, addr, httpapi.LocalOrigin(addr))
		return append(built.HTTP, okRoute{oauth2.NewBearerAuth(svc, addr)},
			ca.NewModule(ca.New(ca.DefaultConfig(), ca.DepsFrom(svc)), svc.BearerAuth(), addr),
			agtest.AdminAPI(t, svc, addr, subs.AdminRoutes(), adminapi.Objects{Ops: svc}.AdminRoutes(), built.Admin),
		)
	})
	c := newClient(e.URL, e.URL)
	key, secret := e.Admin.Key, e.Admin.Secret
	admin := c.passwordGrant(t, 0, key, secret)
	brand, err := tpv.CreateBrand(ctx, e.Svc, "", "Acme Energy")
	if err != nil {
		t.Fatal(err)
	}
	aps := newApstrataClient(t, e, c)
	pop := newPoPClient(t, e, c)
	soap := startM2MEnv(t, e.Svc)

	errorIs := func(code string) func(reply) bool {
		return func(r reply) bool { return jsonMap(r.body)["error"] == code }
	}
	probes := []familyProbe{
		{"oauth2", "oauth2 token", func() reply { return c.do(0, "POST", "/oauth/token", formHeader, passwordForm(key, secret)) }, errorIs("temporarily_unavailable")},
		{"oauth2", "oauth2 bearer route", func() reply { return c.do(0, "GET", "/accesskeys", bearerHeader(admin), "") }, errorIs("temporarily_unavailable")},
		{"device", "device identities", func() reply { return c.do(0, "GET", "/identities/psk", bearerHeader(admin), "") }, errorIs("temporarily_unavailable")},
		{"tpv", "tpv login", func() reply {
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			q := url.Values{"token": {brand.ApplicationToken}, "timestamp": {ts}, "_signature": {sdktpv.LoginSignature(brand.ApplicationToken, ts, brand.AppSecret)}}
			return c.do(0, "POST", "/api/v1/auth?"+q.Encode(), nil, "")
		}, func(r reply) bool { s, ok := jsonMap(r.body)["error"].(string); return ok && s != "" }},
		{"apstrata", "apstrata", func() reply { return sendReq(c, aps.request) }, func(r reply) bool {
			resp, err := sdkaps.Parse(r.body)
			return err == nil && resp.Status == "failure" && resp.ErrorCode == apstrata.CodeInternalError
		}},
		{"taap", "taap resource", func() reply { return sendReq(c, pop.request) }, errorIs("temporarily_unavailable")},
		{"", "ca admin", func() reply { return c.do(0, "GET", "/ca/certificates", bearerHeader(admin), "") }, errorIs("unavailable")},
		{"", "subscription admin", func() reply { return c.do(0, "GET", "/admin/subscriptions", bearerHeader(admin), "") }, errorIs("temporarily_unavailable")},
		{"", "core objects admin", func() reply { return c.do(0, "GET", "/admin/organisations", bearerHeader(admin), "") }, errorIs("temporarily_unavailable")},
		{"", "family objects admin", func() reply { return c.do(0, "GET", "/admin/taap/clients", bearerHeader(admin), "") }, errorIs("temporarily_unavailable")},
		{"m2m", "m2m SOAP", soap.usageGet, func(r reply) bool {
			f := sdkm2m.ParseFault(r.body)
			return f != nil && f.Code == sdkm2m.FaultServer && f.Detail == sdkm2m.ErrUnavailable
		}},
	}
	for _, f := range cli.Families() { // a new family needs its probe here
		if !slices.ContainsFunc(probes, func(p familyProbe) bool { return p.family == f.Name }) {
			t.Errorf("family %s has no probe", f.Name)
		}
	}
	for _, p := range probes {
		if r := p.send(); r.err != nil || r.status != 200 {
			t.Fatalf("%s before the outage: %v %d %s", p.name, r.err, r.status, r.body)
		}
	}

	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		var last reply
		waitFor(t, 30*time.Second, p.name+" answering 503", func() bool {
			last = p.send()
			if last.err != nil || (last.status != 200 && last.status != 503) {
				t.Fatalf("%s during the outage: %v %d %s", p.name, last.err, last.status, last.body)
			}
			return last.status == 503
		})
		if ra := last.header.Get("Retry-After"); ra != "1" {
			t.Errorf("%s: 503 with Retry-After %q, want 1", p.name, ra)
		}
		if !p.shape(last) {
			t.Errorf("%s: 503 not in the family's error shape: %s", p.name, last.body)
		}
		t.Logf("%s: 503 Retry-After %s %s", p.name, last.header.Get("Retry-After"), last.body)
	}

	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		waitFor(t, 30*time.Second, p.name+" serving again", func() bool { return p.send().status == 200 })
	}
}

// sendReq sends a request built by an SDK through c's transport.
func sendReq(c *client, build func() (*http.Request, error)) reply {
	req, err := build()
	if err != nil {
		return reply{err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// m2mEnv is an M2M environment (TA) on its own HTTPS listener, on the
// node's store, with a partner, its API key and a SIM.
type m2mEnv struct {
	t      testing.TB
	url    string
	http   *http.Client
	signer *wssec.Signer
	apiKey string
}

const m2mICCID = "8949020000000000017"

func startM2MEnv(t testing.TB, svc core.Services) *m2mEnv {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	authority := wssectest.NewCA(t, "Test Telekom CA", 0, now)
	loop := []net.IP{net.IPv4(127, 0, 0, 1)}
	tlsCert, tlsKey := authority.Issue(t, wssectest.Leaf{CN: "m2m-ta.authgate.test", Slot: 10, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: loop, Now: now})
	platCert, platKey := authority.Issue(t, wssectest.Leaf{CN: "signing.m2m-ta.authgate.test", OU: "M2M_TA", Slot: 11, Now: now})
	pCert, pKey := authority.Issue(t, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", Slot: 12, Now: now})
	deps := m2m.DepsFrom(svc, httpapi.ClientAddr{})
	mat := m2m.Material{
		TLS:        tls.Certificate{Certificate: [][]byte{tlsCert.Raw}, PrivateKey: tlsKey},
		SigningKey: platKey, SigningCert: platCert,
		CallbackCAs: authority.Pool(), TrustedCAs: authority.Pool(),
		Partners: []m2m.Partner{{Name: "acme", SigningCerts: []*x509.Certificate{pCert},
			AdmClURL: "https://127.0.0.1:9/M2MAdmCl", MonClURL: "https://127.0.0.1:9/M2MMonCl"}},
	}
	env, err := m2m.NewEnv(ctx, m2m.EnvTA, m2m.DefaultConfig(), mat, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(env.Handler(httpapi.Options{Log: svc.Log, Ready: svc.Store}))
	srv.TLS = env.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	apiKey, err := m2m.CreateAPIKey(ctx, deps, m2m.EnvTA, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2m.AddSIM(ctx, deps, m2m.EnvTA, "acme", m2mICCID, "M2M_BASIC"); err != nil {
		t.Fatal(err)
	}
	signer, err := wssec.NewSigner(pKey, pCert, wssec.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: authority.Pool()}}, Timeout: 20 * time.Second}
	return &m2mEnv{t: t, url: srv.URL + m2m.PathMon, http: hc, signer: signer, apiKey: apiKey}
}

// usageGet posts a signed SIMUsageGet (a fresh Timestamp and ids each time).
func (m *m2mEnv) usageGet() reply {
	payload, err := xml.Marshal(sdkm2m.SIMUsageGet{M2MApiKey: m.apiKey, ICCID: m2mICCID})
	if err != nil {
		return reply{err: err}
	}
	body, err := m.signer.Sign(payload)
	if err != nil {
		return reply{err: err}
	}
	resp, err := m.http.Post(m.url, "text/xml; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}
