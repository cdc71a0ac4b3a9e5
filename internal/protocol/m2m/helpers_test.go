package m2m_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

const iccid = "8949020000000000017"

// world is one environment of the platform behind HTTPS, a partner with
// its signing key, M2MApiKey and a SIM, and the partner's M2MAdmCl/M2MMonCl
// server.
type world struct {
	t        testing.TB
	now      time.Time
	ca       *wssectest.CA
	svc      core.Services
	deps     m2m.Deps
	env      *m2m.Env
	srv      *httptest.Server
	apiKey   string
	pCert    *x509.Certificate
	pKey     *rsa.PrivateKey
	platCert *x509.Certificate
	client   *sdk.Client
	partner  *partnerServer
	http     *http.Client
	// What the environment was built from (restart rebuilds it).
	mat     m2m.Material
	cfg     m2m.Config
	envName string
	handler atomic.Pointer[http.Handler]
}

// serve puts env behind the world's listener.
func (w *world) serve(env *m2m.Env) {
	var h http.Handler = env.Handler(httpapi.Options{Log: w.svc.Log, Ready: w.svc.Store, MaxBodyBytes: int64(w.cfg.MaxMessageBytes)})
	w.handler.Store(&h)
}

// restart builds the environment anew from mat (a node restart: fresh
// verifier and caches, same store) and serves it on the same address.
func (w *world) restart(t testing.TB, mat m2m.Material) *m2m.Env {
	t.Helper()
	env, err := m2m.NewEnv(context.Background(), w.envName, w.cfg, mat, w.deps)
	if err != nil {
		t.Fatal(err)
	}
	w.env = env
	w.serve(env)
	return env
}

// partnerServer records what the partner's M2MAdmCl/M2MMonCl received.
type partnerServer struct {
	srv     *httptest.Server
	handler *sdk.PartnerHandler
	mu      sync.Mutex
	adm     []sdk.M2MAdmResponse
	mon     []sdk.SIMNetworkStateChange
	got     chan string
	raw     [][]byte // notifications as received
	// fail makes the next n notifications fail (the partner answers an error).
	fail int
}

type worldOptions struct {
	clock    core.Clock
	cfg      func(*m2m.Config)
	envName  string
	postgres string
	// material and deps adjust the environment before it is built.
	material func(w *world, m *m2m.Material)
	deps     func(w *world, d *m2m.Deps)
	// access is the API subscription policy checked after authentication.
	access func(svc core.Services) interface {
		Allow(ctx context.Context, a core.Access) error
	}
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	now := time.Now().UTC()
	w := &world{t: t, now: now}
	w.ca = wssectest.NewCA(t, "Test Telekom CA", 0, now)
	loop := []net.IP{net.IPv4(127, 0, 0, 1)}
	platTLS, platTLSKey := w.ca.Issue(t, wssectest.Leaf{CN: "m2m-ta.authgate.test", Slot: 10, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: loop, Now: now})
	var platKey *rsa.PrivateKey
	w.platCert, platKey = w.ca.Issue(t, wssectest.Leaf{CN: "signing.m2m-ta.authgate.test", OU: "M2M_TA", Slot: 11, Now: now})
	w.pCert, w.pKey = w.ca.Issue(t, wssectest.Leaf{CN: "ta.sample.org", OU: "M2M_TA", Slot: 12, Now: now})
	pTLS, pTLSKey := w.ca.Issue(t, wssectest.Leaf{CN: "ta.sample.org", Slot: 13, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: loop, Now: now})

	ao := agtest.Options{PostgresDSN: o.postgres}
	w.svc, _ = agtest.NewServices(t, ao)
	if o.clock != nil {
		w.svc.Clock = o.clock
	}
	w.deps = m2m.DepsFrom(w.svc, httpapi.ClientAddr{})
	w.deps.Clock = w.svc.Clock
	if o.access != nil {
		w.deps.Access = o.access(w.svc)
	}

	// The partner's servers come first: the platform needs their URLs.
	w.partner = &partnerServer{got: make(chan string, 16)}
	pSigner, err := wssec.NewSigner(w.pKey, w.pCert, wssec.SignerOptions{Clock: w.svc.Clock})
	if err != nil {
		t.Fatal(err)
	}
	pVerifier, err := wssec.NewVerifier(wssec.Policy{Pinned: []*x509.Certificate{w.platCert}, Clock: w.svc.Clock})
	if err != nil {
		t.Fatal(err)
	}
	w.partner.handler = &sdk.PartnerHandler{Signer: pSigner, Verifier: pVerifier,
		OnAdmResponse: func(_ context.Context, r sdk.M2MAdmResponse) sdk.M2MAdmResponseMessage {
			w.partner.mu.Lock()
			defer func() { w.partner.mu.Unlock(); w.partner.got <- "adm" }()
			if w.partner.fail > 0 {
				w.partner.fail--
				return sdk.M2MAdmResponseMessage{StateCode: 500, NotificationText: "partner busy"}
			}
			w.partner.adm = append(w.partner.adm, r)
			return sdk.M2MAdmResponseMessage{StateCode: 0, NotificationText: "received " + r.RequestID}
		},
		OnNetworkState: func(_ context.Context, n sdk.SIMNetworkStateChange) sdk.M2MMonResponseMessage {
			w.partner.mu.Lock()
			defer func() { w.partner.mu.Unlock(); w.partner.got <- "mon" }()
			w.partner.mon = append(w.partner.mon, n)
			return sdk.M2MMonResponseMessage{StateCode: 0, NotificationText: "received " + n.EventID}
		},
	}
	mux := http.NewServeMux()
	capture := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.partner.mu.Lock()
		w.partner.raw = append(w.partner.raw, b)
		w.partner.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		w.partner.handler.ServeHTTP(rw, r)
	})
	mux.Handle("/M2MAdmCl", capture)
	mux.Handle("/M2MMonCl", capture)
	w.partner.srv = httptest.NewUnstartedServer(mux)
	w.partner.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{pTLS.Raw}, PrivateKey: pTLSKey}}}
	w.partner.srv.StartTLS()
	t.Cleanup(w.partner.srv.Close)

	cfg := m2m.DefaultConfig()
	cfg.RetryDelay = time.Second
	cfg.PollInterval = 20 * time.Millisecond
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	name := o.envName
	if name == "" {
		name = m2m.EnvTA
	}
	mat := m2m.Material{
		TLS:        tls.Certificate{Certificate: [][]byte{platTLS.Raw}, PrivateKey: platTLSKey},
		SigningKey: platKey, SigningCert: w.platCert,
		CallbackCAs: w.ca.Pool(), TrustedCAs: w.ca.Pool(),
		Partners: []m2m.Partner{{Name: "acme", SigningCerts: []*x509.Certificate{w.pCert},
			AdmClURL: w.partner.srv.URL + "/M2MAdmCl", MonClURL: w.partner.srv.URL + "/M2MMonCl"}},
	}
	if o.material != nil {
		o.material(w, &mat)
	}
	if o.deps != nil {
		o.deps(w, &w.deps)
	}
	w.mat, w.cfg, w.envName = mat, cfg, name
	ctx := context.Background()
	if w.env, err = m2m.NewEnv(ctx, name, cfg, mat, w.deps); err != nil {
		t.Fatal(err)
	}
	w.serve(w.env)
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { (*w.handler.Load()).ServeHTTP(rw, r) }))
	w.srv.TLS = w.env.TLSConfig()
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)

	if w.apiKey, err = m2m.CreateAPIKey(ctx, w.deps, name, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := m2m.AddSIM(ctx, w.deps, name, "acme", iccid, "M2M_BASIC"); err != nil {
		t.Fatal(err)
	}
	if _, err := m2m.RecordUsage(ctx, w.deps, name, iccid, 1<<20, 3, 60); err != nil {
		t.Fatal(err)
	}
	w.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.ca.Pool()}}, Timeout: 10 * time.Second}
	w.client = &sdk.Client{BaseURL: w.srv.URL, APIKey: w.apiKey, Signer: pSigner, Verifier: pVerifier, HTTP: w.http}
	return w
}

// waitFor waits for the partner to receive n notifications.
func (p *partnerServer) waitFor(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-p.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("partner got %d of %d notifications", i, n)
		}
	}
}
