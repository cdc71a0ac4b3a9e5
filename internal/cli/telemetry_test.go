package cli

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricsFollowConventions: a server that issued and refused tokens
// exposes the operators' metrics (tokens issued, grant outcomes and
// limiter refusals by family and grant, authentication refusals
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
	// Ten more wrong secrets from the same address: the last is past the
	// failed-authentication limit (10 per key and address), refused as such.
	for i := range 10 {
		if st := grant("wrong"); st == http.StatusOK || (st == http.StatusTooManyRequests) != (i == 9) {
			t.Fatalf("wrong secret %d: %d", i+2, st)
		}
	}
	// The dashboard counts the same: 2 good and 11 bad grants, the 2
	// bearer checks and this request's own admin bearer check (counted
	// before it answers); one refusal is the limiter's.
	sreq, _ := http.NewRequest("GET", s.url+"/admin/stats", nil)
	sreq.Header.Set("Authorization", "Bearer "+tok)
	sresp, err := client.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Families []struct {
			Family                     string
			Requests, Denials, Limited int
		} `json:"families"`
	}
	err = json.NewDecoder(sresp.Body).Decode(&stats)
	sresp.Body.Close()
	if err != nil || sresp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d %v", sresp.StatusCode, err)
	}
	var oauth2Counts string
	for _, f := range stats.Families {
		if f.Family == "oauth2" {
			oauth2Counts = fmt.Sprintf("%d requests, %d denials, %d limited", f.Requests, f.Denials, f.Limited)
		}
	}
	if want := "16 requests, 12 denials, 1 limited"; oauth2Counts != want {
		t.Errorf("the dashboard's oauth2 family: %q, want %q", oauth2Counts, want)
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
		`authgate_auth_total{family="oauth2",reason="ok",result="success",scheme="oauth2-password"} 2`,
		`authgate_auth_total{family="oauth2",reason="unauthenticated",result="failure",scheme="oauth2-password"} 10`,
		`authgate_auth_total{family="oauth2",reason="rate_limited",result="failure",scheme="oauth2-password"} 1`,
		`authgate_auth_limiter_refused_total{family="oauth2",scheme="oauth2-password"} 1`,
		`authgate_auth_total{family="oauth2",reason="ok",result="success",scheme="oauth2-admin-bearer"} 1`,
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
