package cli

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricsFollowConventions: a server that issued and refused tokens
// exposes the operators' metrics (tokens issued, authentication refusals
// by the limiter's neighbours, store latency and pool use, the served
// certificate's expiry), its HTTP route labels carry no method, and
// promlint finds nothing wrong with any authgate_ metric.
func TestMetricsFollowConventions(t *testing.T) {
	s := startServer(t, "--data-dir", t.TempDir(), "--self-signed")
	key, secret := bootstrapCredentials(t, s) // waits for the line
	m := []string{"", key, secret}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test only: the self-signed development certificate
	grant := func(secret string) int {
		resp, err := client.PostForm(s.url+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {m[1]}, "password": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := grant(m[2]); st != http.StatusOK {
		t.Fatalf("password grant: %d", st)
	}
	if st := grant("wrong"); st == http.StatusOK {
		t.Fatal("wrong secret accepted")
	}
	// One bearer check on a built-in route that passes, one that fails.
	tr, err := client.PostForm(s.url+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {m[1]}, "password": {m[2]}})
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(tr.Body).Decode(&issued)
	tr.Body.Close()
	if err != nil || issued.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	tok := issued.AccessToken
	for _, bearer := range []string{tok, "not-a-token"} {
		req, _ := http.NewRequest("GET", s.url+"/accesskeys", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := client.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`authgate_tokens_issued_total{kind="access"} 2`,
		`authgate_auth_total{family="oauth2",reason="ok",result="success",scheme="oauth2-bearer"} 1`,
		`authgate_auth_total{family="oauth2",reason="unauthenticated",result="failure",scheme="oauth2-bearer"} 1`,
		`authgate_store_query_duration_seconds_bucket{operation="select"`,
		`go_sql_open_connections{db_name="store"}`,
		`authgate_certificate_expiry_timestamp_seconds{serial=`,
		`authgate_http_requests_total{code="200",route="/oauth/token",server="main"} 2`,
		`authgate_tokens_revoked_total 0`,
		`authgate_auth_limiter_refused_total 0`,
		"authgate_replay_cache_keys ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `route="POST /`) || strings.Contains(text, `route="GET /`) {
		t.Error("a route label carries the method")
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "authgate_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
