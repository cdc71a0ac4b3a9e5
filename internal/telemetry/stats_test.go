package telemetry

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/core"
)

// tableGate decides with the privilege table, as the admin API's request does.
type tableGate struct{ actor core.Actor }

func (g tableGate) Actor() core.Actor { return g.actor }

func (g tableGate) Authorize(ctx context.Context, action core.Action, target core.Target, subject string) error {
	return (*core.Authorizer)(nil).Authorize(ctx, core.Authorization{Actor: g.actor, Action: action, Target: target, Subject: subject})
}

type fakeJobs struct {
	counts []core.JobCount
	err    error
	calls  int
}

func (f *fakeJobs) CountJobs(context.Context) ([]core.JobCount, error) {
	f.calls++
	return f.counts, f.err
}

func cert(serial int64, cn string, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotAfter: notAfter}
}

// TestDashboardStats: the counters of the last hour per family with
// their totals, the certificates expiring within 30 days from every
// source (served, CA, issued; expired and later ones left out), soonest
// first, the failed and pending callbacks per queue; the store's parts
// cached, a failed read named unavailable and retried.
func TestDashboardStats(t *testing.T) {
	clock := core.NewManualClock(start)
	recent := NewRecent(clock)
	recent.AuthOutcome("tpv", "signature", nil)
	recent.AuthOutcome("oauth2", "bearer", errDenied)
	recent.AuthOutcome("oauth2", "password", errLimit)
	certs := NewCertificateExpiry(prometheus.NewRegistry())
	certs.Add("listener:main", func() []*x509.Certificate {
		soon := cert(1, "main", start.Add(10*24*time.Hour))
		return []*x509.Certificate{soon, soon, cert(2, "later", start.Add(31*24*time.Hour))} // a chain repeating one
	})
	certs.Add("ca", func() []*x509.Certificate { return []*x509.Certificate{cert(3, "expired CA", start.Add(-time.Hour))} })
	issuedCalls := 0
	issued := func(_ context.Context, now, until time.Time) ([]ExpiringCertificate, bool, error) {
		issuedCalls++
		if !until.Equal(now.Add(ExpiringWithin)) {
			t.Errorf("issued asked until %v", until)
		}
		return []ExpiringCertificate{{Source: "issued", Subject: "CN=partner", Serial: "ab", NotAfter: start.Add(36 * time.Hour)}}, false, nil
	}
	jobs := &fakeJobs{counts: []core.JobCount{{Queue: "m2m.callback", State: core.JobFailed, Jobs: 2}, {Queue: "m2m.callback", State: core.JobPending, Jobs: 5},
		{Queue: "a.other", State: core.JobFailed, Jobs: 1}}}
	d := NewDashboard(DashboardDeps{Recent: recent, Certificates: certs, Issued: issued, Jobs: jobs, Clock: clock})
	admin := tableGate{core.Actor{Kind: core.PrincipalAdmin, OrgID: core.SystemOrgID, PrincipalID: "adm"}}
	ctx := context.Background()

	st, err := d.Stats(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scope != "node" || st.WindowMinutes != 60 || st.Totals != (Totals{Requests: 3, Denials: 2, Limited: 1}) {
		t.Fatalf("counters: %+v", st)
	}
	if len(st.Families) != 2 || st.Families[0].Family != "oauth2" || st.Families[0].Limited != 1 || st.Families[1].Family != "tpv" {
		t.Fatalf("families (sorted by name): %+v", st.Families)
	}
	c := st.Certificates
	if c.WithinDays != 30 || c.Count != 2 || len(c.Items) != 2 || c.Truncated {
		t.Fatalf("certificates: %+v", c)
	}
	if c.Items[0].Source != "issued" || c.Items[0].ExpiresInDays != 1 || c.Items[1].Source != "listener:main" || c.Items[1].Serial != "1" || c.Items[1].ExpiresInDays != 10 {
		t.Errorf("expiring, soonest first: %+v", c.Items)
	}
	cb := st.Callbacks
	if cb.Failed != 3 || cb.Pending != 5 || len(cb.Queues) != 2 || cb.Queues[0] != (QueueStats{Queue: "a.other", Failed: 1}) || cb.Queues[1] != (QueueStats{Queue: "m2m.callback", Failed: 2, Pending: 5}) {
		t.Errorf("callbacks: %+v", cb)
	}
	if len(st.Unavailable) != 0 {
		t.Errorf("unavailable: %v", st.Unavailable)
	}

	// Within the cache interval the store is not read again; after it, it is.
	clock.Advance(5 * time.Second)
	if _, err := d.Stats(ctx, admin); err != nil || jobs.calls != 1 || issuedCalls != 1 {
		t.Fatalf("cached: %v, %d outbox reads, %d issued reads", err, jobs.calls, issuedCalls)
	}
	clock.Advance(storeCacheFor)
	jobs.err = core.E(core.KindUnavailable, "database down")
	st, err = d.Stats(ctx, admin)
	if err != nil || jobs.calls != 2 || len(st.Unavailable) != 1 || st.Unavailable[0] != "callbacks" || st.Callbacks.Failed != 3 {
		t.Fatalf("store down: %v, %d reads, %+v", err, jobs.calls, st)
	}
	jobs.err = nil
	jobs.counts = nil
	if st, _ = d.Stats(ctx, admin); jobs.calls != 3 || st.Callbacks.Failed != 0 || len(st.Unavailable) != 0 || st.Callbacks.Queues == nil {
		t.Fatalf("after the store is back: %d reads, %+v", jobs.calls, st.Callbacks)
	}
}

// TestAttack_DashboardNotForOrganisations: the counters are the node's,
// so every non-admin kind is refused (an owner too), as is no caller.
func TestAttack_DashboardNotForOrganisations(t *testing.T) {
	d := NewDashboard(DashboardDeps{Recent: NewRecent(core.NewManualClock(start)), Clock: core.NewManualClock(start)})
	for _, k := range []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner, ""} {
		_, err := d.Stats(context.Background(), tableGate{core.Actor{Kind: k, OrgID: "org-1", PrincipalID: "p"}})
		if core.KindOf(err) != core.KindForbidden {
			t.Errorf("%q: %v, want forbidden", k, err)
		}
	}
	if _, err := d.Stats(context.Background(), nil); core.KindOf(err) != core.KindForbidden {
		t.Errorf("no gate: %v", err)
	}
	if _, err := d.Stats(context.Background(), core.Operator{}); err != nil {
		t.Errorf("the operator: %v", err)
	}
	var nilCerts *CertificateExpiry
	if got := nilCerts.All(); got != nil {
		t.Errorf("no certificate sources: %v", got)
	}
}
