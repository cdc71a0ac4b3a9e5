package device_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/scheme"
)

// The end-to-end tests of the identities API, the mTLS listener and the
// device-mtls scheme run with a real CA and the OAuth2 token endpoint in
// internal/protocol/oauth2 (identities_test.go, identities_scheme_test.go,
// privilege_attack_test.go). These check what needs neither.

func TestConfigValidate(t *testing.T) {
	if err := device.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]device.Config{
		"listener without certificate": {MTLSListen: "127.0.0.1:0", CertificateValidity: time.Hour},
		"validity too short":           {CertificateValidity: time.Minute},
		"validity too long":            {CertificateValidity: 1100 * 24 * time.Hour},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := device.New(core.Services{}, nil, device.Config{}, device.Options{}); err == nil {
		t.Error("New accepted an invalid section")
	}
}

// TestAttack_DeviceMTLSWithoutConnection: without a TLS client
// certificate nothing is presented and nothing authenticates, whatever
// headers claim a certificate; the refusal is the device server's 401.
func TestAttack_DeviceMTLSWithoutConnection(t *testing.T) {
	ids, err := device.New(core.Services{}, nil, device.DefaultConfig(), device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ss := ids.Schemes()
	if len(ss) != 1 || ss[0].Name() != device.SchemeMTLS || ss[0].Family() != device.Family {
		t.Fatalf("schemes %v", ss)
	}
	sc := ss[0]
	r := httptest.NewRequest(http.MethodGet, "/x", strings.NewReader("b"))
	r.Header.Set("X-Client-Cert", "-----BEGIN CERTIFICATE-----")
	if sc.Presented(r) || sc.NeedsBody(r) {
		t.Fatal("presented without a TLS client certificate")
	}
	_, err = sc.Authenticate(context.Background(), scheme.Request{HTTP: r, BodyKnown: true})
	if core.KindOf(err) != core.KindUnauthenticated {
		t.Fatalf("err = %v", err)
	}
	rec := httptest.NewRecorder()
	sc.WriteRefusal(rec, r, err)
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Basic realm="authgate"` ||
		!strings.Contains(rec.Body.String(), `"error":"invalid_client"`) || !strings.Contains(rec.Body.String(), "a client certificate is required") {
		t.Fatalf("refusal %d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
	if b := sc.StripCredentials(r, []byte("b")); string(b) != "b" || r.Header.Get("X-Client-Cert") == "" {
		t.Fatal("StripCredentials changed the request")
	}
}
