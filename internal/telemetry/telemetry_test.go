package telemetry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// TestAuthOutcomeLabels: the reason label is the error's kind (a closed
// set), never the client-influenced reason text, and successes are "ok".
func TestAuthOutcomeLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.AuthOutcome("tpv", "tpv-signature", nil)
	m.AuthOutcome("tpv", "tpv-signature", nil)
	m.AuthOutcome("tpv", "tpv-signature", core.E(core.KindReplayed, "signature "+strings.Repeat("x", 100)+" already used"))
	m.AuthOutcome("oauth2", "oauth2-bearer", core.E(core.KindExpired, "token expired at ..."))
	m.AuthOutcome("oauth2", "oauth2-bearer", errors.New("plain error"))
	m.TokensIssued(core.TokenAccess, 2)
	m.TokensRevoked(0)
	m.TokensRevoked(3)
	m.ReplayRefused("pop")
	m.AuthLimited("oauth2", "oauth2-password")
	m.AuthLimited("oauth2", "oauth2-password")
	m.AuthLimited("tpv", "tpv-login")
	want := `
# HELP authgate_auth_total Authentications by protocol family, scheme, result (success or failure) and reason (the error kind; ok on success).
# TYPE authgate_auth_total counter
authgate_auth_total{family="oauth2",reason="expired",result="failure",scheme="oauth2-bearer"} 1
authgate_auth_total{family="oauth2",reason="internal",result="failure",scheme="oauth2-bearer"} 1
authgate_auth_total{family="tpv",reason="ok",result="success",scheme="tpv-signature"} 2
authgate_auth_total{family="tpv",reason="replayed",result="failure",scheme="tpv-signature"} 1
# HELP authgate_tokens_issued_total Tokens issued, by kind.
# TYPE authgate_tokens_issued_total counter
authgate_tokens_issued_total{kind="access"} 2
# HELP authgate_tokens_revoked_total Tokens revoked (one at a time, or with their family, principal or credential).
# TYPE authgate_tokens_revoked_total counter
authgate_tokens_revoked_total 3
# HELP authgate_replay_refused_total Messages the replay cache refused because they were seen before, by namespace.
# TYPE authgate_replay_refused_total counter
authgate_replay_refused_total{namespace="pop"} 1
# HELP authgate_auth_limiter_refused_total Authentication attempts the failed-authentication limiter refused, by protocol family and scheme (or grant).
# TYPE authgate_auth_limiter_refused_total counter
authgate_auth_limiter_refused_total{family="oauth2",scheme="oauth2-password"} 2
authgate_auth_limiter_refused_total{family="tpv",scheme="tpv-login"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

func selfSigned(t *testing.T, cn string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x1234), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestCertificateExpiryFollowsReloads: a source is read at every scrape,
// so a listener whose certificate was swapped reports the new one.
func TestCertificateExpiryFollowsReloads(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := NewCertificateExpiry(reg)
	first, second := time.Unix(1_900_000_000, 0), time.Unix(2_000_000_000, 0)
	current := selfSigned(t, "first", first)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &current, nil }}
	c.Add("listener:main", httpapi.ServedCertificates(cfg))
	c.Add("static", httpapi.ServedCertificates(&tls.Config{Certificates: []tls.Certificate{selfSigned(t, "static", first)}}))
	c.Add("empty", httpapi.ServedCertificates(nil))
	scrape := func() string {
		var b strings.Builder
		if err := testutil.GatherAndCompare(reg, strings.NewReader("")); err != nil {
			b.WriteString(err.Error())
		}
		return b.String()
	}
	if got := scrape(); !strings.Contains(got, `authgate_certificate_expiry_timestamp_seconds{serial="1234",source="listener:main",subject="CN=first"} 1.9e+09`) ||
		!strings.Contains(got, `source="static",subject="CN=static"`) {
		t.Fatalf("first scrape:\n%s", got)
	}
	current = selfSigned(t, "second", second)
	if got := scrape(); !strings.Contains(got, `source="listener:main",subject="CN=second"} 2e+09`) || strings.Contains(got, "CN=first") {
		t.Fatalf("after the swap:\n%s", got)
	}
}

type countingJobs struct {
	calls  int
	counts []core.JobCount
	err    error
}

func (c *countingJobs) CountJobs(context.Context) ([]core.JobCount, error) {
	c.calls++
	return c.counts, c.err
}

// TestOutboxCachesTheStoreRead: scrapes within outboxCacheFor cost one
// count; a failing store keeps the last counts.
func TestOutboxCachesTheStoreRead(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clock := core.NewManualClock(time.Unix(1_800_000_000, 0))
	jobs := &countingJobs{counts: []core.JobCount{{Queue: "m2m.ta.callback", State: core.JobPending, Jobs: 4}, {Queue: "m2m.ta.callback", State: core.JobFailed, Jobs: 1}}}
	NewOutbox(reg, jobs, clock)
	want := `
# HELP authgate_outbox_jobs Unfinished outbox jobs (M2M callbacks) by queue and state: pending (waiting or retrying) or failed (given up).
# TYPE authgate_outbox_jobs gauge
authgate_outbox_jobs{queue="m2m.ta.callback",state="failed"} 1
authgate_outbox_jobs{queue="m2m.ta.callback",state="pending"} 4
`
	for i := 0; i < 3; i++ {
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Fatal(err)
		}
	}
	if jobs.calls != 1 {
		t.Fatalf("%d store reads for three scrapes within the cache time", jobs.calls)
	}
	clock.Advance(outboxCacheFor)
	jobs.err = errors.New("database down")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil || jobs.calls != 2 {
		t.Fatalf("after the cache time with a failing store: %v (%d reads)", err, jobs.calls)
	}
}
