package taap_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/obstest"
	"github.com/authgate/authgate/sdk/pop"
)

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	return keys
})

// testICCID is a valid ICCID (Luhn) used by the tests.
var testICCID = func() string { d := "8901260123456789012"; return d + string(taap.LuhnDigit(d)) }()

// fixture is a running authgate with the TAAP module, one client and one SIM.
type fixture struct {
	env    *agtest.Env
	key    *rsa.PrivateKey
	client taap.ClientInfo
	sdk    *pop.Client
	cfg    taap.Config
	// probe counts what the services observe (as the composition root does).
	probe *obstest.Probe
}

type fixtureOpts struct {
	agtest.Options
	cfg    *taap.Config
	master []byte
	addr   httpapi.ClientAddr // how client addresses are found (default: the peer)
	admin  bool               // mount the admin API with the module's routes
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	cfg := taap.DefaultConfig()
	if o.cfg != nil {
		cfg = *o.cfg
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.ManualClock.IsZero() {
		o.ManualClock = time.Now().Truncate(time.Second)
	}
	var probe *obstest.Probe
	env := agtest.Start(t, o.Options, func(svc core.Services) []httpapi.Module {
		probe = obstest.New(svc.Clock)
		svc = probe.Observe(svc)
		m := taap.New(cfg, taap.DepsFrom(svc, o.addr))
		if !o.admin {
			return []httpapi.Module{m}
		}
		return []httpapi.Module{m, agtest.AdminAPI(t, svc, o.addr, m.Admin().AdminRoutes())}
	})
	f := &fixture{env: env, key: testKeys()[0], cfg: cfg, probe: probe}
	f.register(t, "Demo IoT client "+core.NewID()[:6])
	return f
}

func (f *fixture) register(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	info, err := taap.CreateClient(ctx, f.env.Svc, taap.ClientSpec{Name: name, PublicKeys: [][]byte{pop.PublicKeyPEM(f.key)}, Scope: "iot-connectivity"})
	if err != nil {
		t.Fatal(err)
	}
	f.client = info
	if _, err := taap.AddSIM(ctx, f.env.Svc, info.OrgID, taap.SIM{ICCID: testICCID, MSISDN: "+14255550100", IMSI: "310260123456789", Label: "dev kit"}); err != nil && core.KindOf(err) != core.KindConflict {
		t.Fatal(err)
	}
	f.sdk = &pop.Client{BaseURL: f.env.URL, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		Builder: &pop.Builder{Key: f.key, Now: f.env.Clock.Now}}
}

// accessToken runs the token endpoint through the SDK.
func (f *fixture) accessToken(t testing.TB) *pop.TokenResponse {
	t.Helper()
	tr, err := f.sdk.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// result is a decoded answer.
type result struct {
	status    int
	body      map[string]any
	challenge string
}

func (r result) code() string { s, _ := r.body["error"].(string); return s }
func (r result) desc() string { s, _ := r.body["error_description"].(string); return s }

func send(t testing.TB, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := result{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if err := json.Unmarshal(b, &out.body); err != nil {
		t.Fatalf("answer is not JSON: %d %s", resp.StatusCode, b)
	}
	return out
}

// wantPoPFailure checks the error shape of a PoP rejection naming check.
func wantPoPFailure(t testing.TB, r result, check taap.Check) {
	t.Helper()
	if r.status != 401 || r.code() != "invalid_pop_token" || !strings.HasPrefix(r.desc(), "PoP check "+string(check)+" failed: ") {
		t.Fatalf("want 401 invalid_pop_token naming %s, got %d %v", check, r.status, r.body)
	}
	if !strings.HasPrefix(r.challenge, `PoP realm="authgate", error="invalid_pop_token"`) {
		t.Fatalf("WWW-Authenticate = %q", r.challenge)
	}
}

// lastFailure returns the newest auth_failure audit reason.
func (f *fixture) lastFailure(t testing.TB) string {
	t.Helper()
	evs, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "taap"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("no failure audited")
	}
	newest := evs[0]
	for _, e := range evs {
		if e.ID > newest.ID {
			newest = e
		}
	}
	return newest.Reason
}
