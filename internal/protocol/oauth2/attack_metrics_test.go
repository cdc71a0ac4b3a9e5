package oauth2_test

import (
	"crypto/tls"
	"net/http"
	"testing"
)

// The devices' mTLS listener served /metrics to any device; it answers 404
// (the main listener or metrics_listen serves the metrics).
func TestAttack_MetricsOnDeviceListener(t *testing.T) {
	w := newIDWorld(t)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test only
	resp, err := c.Get(w.mtlsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the mTLS listener = %d, want 404", resp.StatusCode)
	}
}
