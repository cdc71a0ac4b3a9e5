package tpv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// t0 is the ManualClock start of the tests that move time.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	env     *agtest.Env
	brand   tpv.BrandCredentials
	cfg     tpv.Config
	clients map[string]*sdk.Client
}

// start serves the TPV module with cfg and creates a brand with product "555".
func start(t testing.TB, cfg tpv.Config, opt agtest.Options) *fixture {
	t.Helper()
	env := agtest.Start(t, opt, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{tpv.New(cfg, tpv.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	f := &fixture{env: env, cfg: cfg, clients: map[string]*sdk.Client{}}
	f.brand = f.newBrand(t, "", "Acme Energy")
	f.addProduct(t, f.brand, "555")
	return f
}

func (f *fixture) newBrand(t testing.TB, orgID, name string) tpv.BrandCredentials {
	t.Helper()
	b, err := tpv.CreateBrand(context.Background(), f.env.Svc, orgID, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addProduct registers a program code directly (no login: a login
// signature is single-use, and the tests log in themselves).
func (f *fixture) addProduct(t testing.TB, b tpv.BrandCredentials, code string) {
	t.Helper()
	if err := tpv.AddProduct(context.Background(), f.env.Svc, b.OrgID, code, "Product "+code); err != nil {
		t.Fatalf("add product: %v", err)
	}
}

// client is the SDK client of brand b on the fixture's clock (one per
// brand, so its record of sent signatures spans the test).
func (f *fixture) client(b tpv.BrandCredentials) *sdk.Client {
	if c, ok := f.clients[b.BrandID]; ok {
		return c
	}
	c := &sdk.Client{BaseURL: f.env.URL, AppToken: b.ApplicationToken, AppSecret: b.AppSecret, HTTP: f.env.Srv.Client()}
	if f.env.Clock != nil {
		c.Now = f.env.Clock.Now
	}
	f.clients[b.BrandID] = c
	return c
}

// now is the server's time.
func (f *fixture) now() time.Time { return f.env.Svc.Clock.Now() }

// do sends a raw request and returns status and the decoded JSON object.
func (f *fixture) do(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := f.env.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: status %d, body not a JSON object: %q", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// lastAudit returns the newest audit event.
func (f *fixture) lastAudit(t testing.TB) core.AuditEvent {
	t.Helper()
	ev, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "tpv", Limit: 1})
	if err != nil || len(ev) == 0 {
		t.Fatalf("no audit event: %v", err)
	}
	return ev[0]
}

// auditCount counts tpv audit events.
func (f *fixture) auditCount(t testing.TB) int {
	t.Helper()
	ev, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "tpv", Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ev)
}

// exampleRecord is the sales record of the vendor document.
func exampleRecord(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/example_record.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newRequest(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// requireErrorShape checks the vendor's failure shape: {"error": "<text>"},
// plus, for a refused input, "errors" listing every fault with "error"
// first.
func requireErrorShape(t testing.TB, m map[string]any) string {
	t.Helper()
	msg, ok := m["error"].(string)
	if !ok || msg == "" || len(m) > 2 || len(m) == 2 && m["errors"] == nil {
		t.Fatalf("want {\"error\": \"...\"}, got %v", m)
	}
	if all, ok := m["errors"]; ok {
		list := errorList(t, all)
		if len(list) == 0 || list[0] != msg {
			t.Fatalf("errors %v must start with error %q", all, msg)
		}
	}
	return msg
}

// errorList is the "errors" member of a refusal as strings.
func errorList(t testing.TB, v any) []string {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("errors is %T, want an array", v)
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		if out[i], ok = x.(string); !ok {
			t.Fatalf("errors[%d] is %T, want a string", i, x)
		}
	}
	return out
}
