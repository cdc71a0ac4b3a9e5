package tpv_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestResourcesOff: with tpv.resources false the login still issues auth
// tokens, and none of the resource paths is served (they are left to a
// gateway route to the user's own TPV API).
func TestResourcesOff(t *testing.T) {
	cfg := tpv.DefaultConfig()
	cfg.Resources = false
	f := start(t, cfg, agtest.Options{})
	if _, err := f.client(f.brand).Login(context.Background()); err != nil {
		t.Fatalf("login with the resources off: %v", err)
	}
	for _, p := range []string{"/api/v1/tpv", "/api/v1/products", "/api/v1/digital/send/00000000001", "/api/v1/queue/call/00000000001", "/api/v1/test/api"} {
		resp, err := f.env.Srv.Client().Do(newRequest(t, "POST", f.env.URL+p, []byte(`{}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404 (not served)", p, resp.StatusCode)
		}
	}
}
