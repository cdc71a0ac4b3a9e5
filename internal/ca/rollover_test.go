package ca

import (
	"context"
	"crypto/x509"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

// TestRollover: after `ca rollover` the new generation signs, the
// previous one keeps validating (partner trust, revocation, its CRLs)
// until it is retired, and another node sees the change within
// refreshEvery.
func TestRollover(t *testing.T) {
	a, svc, clock := newCA(t, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	other := New(DefaultConfig(), DepsFrom(svc)) // another node, loaded before the rollover
	oldRoot, err := other.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signPE := func(cn string) Issued {
		t.Helper()
		iss, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", cn), nil), Profile: "signing", Environment: EnvPE})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	oldPE, oldLive := signPE("pe.sample.org"), signPE("pe2.sample.org")
	oldPECA, _ := a.IssuingCA(ctx, CAM2MPE)

	if _, err := a.Init(ctx, InitOptions{}); core.KindOf(err) != core.KindConflict || !strings.Contains(err.Error(), "authgate ca rollover") {
		t.Fatalf("Init on an initialised CA: %v", err)
	}
	newRoot, err := a.Rollover(ctx, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if newRoot.Equal(oldRoot) || newRoot.Subject.CommonName != oldRoot.Subject.CommonName+" G2" {
		t.Fatalf("new root %v (old %v)", newRoot.Subject, oldRoot.Subject)
	}
	if _, err := a.Rollover(ctx, InitOptions{}); core.KindOf(err) != core.KindConflict || !strings.Contains(err.Error(), "retire-previous") {
		t.Fatalf("second rollover with a previous generation kept: %v", err)
	}

	// New issuance chains to the new root only, and names its CA's CRL by generation.
	a.cfg.CRLURL = "https://ca.example/ca/crl"
	fresh := signPE("pe3.sample.org")
	a.cfg.CRLURL = ""
	if dp := fresh.Certificate.CRLDistributionPoints; len(dp) != 1 || dp[0] != "https://ca.example/ca/crl?ca=m2m-pe%402" {
		t.Errorf("distribution point of a second-generation certificate: %v", dp)
	}
	if fresh.Record.Generation != 2 || fresh.Chain[0].Subject.CommonName != "authgate M2M PE CA G2" {
		t.Fatalf("new certificate: generation %d chain %v", fresh.Record.Generation, fresh.Chain[0].Subject)
	}
	verify := func(c *x509.Certificate, root *x509.Certificate, inter ...*x509.Certificate) error {
		r, i := x509.NewCertPool(), x509.NewCertPool()
		r.AddCert(root)
		for _, c := range inter {
			i.AddCert(c)
		}
		_, err := c.Verify(x509.VerifyOptions{Roots: r, Intermediates: i, CurrentTime: clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	if err := verify(fresh.Certificate, newRoot, fresh.Chain...); err != nil {
		t.Errorf("new certificate under the new root: %v", err)
	}
	if err := verify(fresh.Certificate, oldRoot, fresh.Chain...); err == nil {
		t.Error("new certificate verifies under the old root")
	}
	if err := verify(oldPE.Certificate, oldRoot, oldPECA); err != nil {
		t.Errorf("old certificate under the old root: %v", err)
	}
	prevPECA, err := a.IssuingCA(ctx, "m2m-pe@1")
	if err != nil || !prevPECA.Equal(oldPECA) {
		t.Fatalf("m2m-pe@1: %v", err)
	}
	roots, _ := a.Roots(ctx)
	if len(roots) != 2 || !roots[0].Equal(newRoot) || !roots[1].Equal(oldRoot) {
		t.Fatalf("roots: %d", len(roots))
	}
	devs, _ := a.DeviceIssuers(ctx)
	if len(devs) != 4 {
		t.Fatalf("device issuers: %d, want both generations' device CA and legacy issuer", len(devs))
	}

	// Partner trust accepts both generations; revocation of an old one is effective.
	for _, c := range []*x509.Certificate{oldPE.Certificate, fresh.Certificate} {
		if err := a.CheckPartnerCertificate(ctx, c, EnvPE); err != nil {
			t.Errorf("partner certificate %v: %v", c.Subject, err)
		}
	}
	if _, err := a.Revoke(ctx, RevokeRequest{Serial: oldPE.Record.Serial, Reason: "superseded"}); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckPartnerCertificate(ctx, oldPE.Certificate, EnvPE); core.KindOf(err) != core.KindRevoked {
		t.Errorf("revoked old-generation certificate: %v", err)
	}

	// Each generation's CA signs the CRL of what it issued.
	crlOf := func(name string, signer *x509.Certificate) *x509.RevocationList {
		t.Helper()
		der, err := a.CRLOf(ctx, name)
		if err != nil {
			t.Fatalf("CRL %s: %v", name, err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.CheckSignatureFrom(signer); err != nil {
			t.Fatalf("CRL %s not signed by %v: %v", name, signer.Subject, err)
		}
		return l
	}
	listed := func(l *x509.RevocationList, serial *big.Int) bool {
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(serial) == 0 {
				return true
			}
		}
		return false
	}
	if l := crlOf("m2m-pe@1", oldPECA); !listed(l, oldPE.Certificate.SerialNumber) {
		t.Error("the previous m2m-pe CA's CRL does not list its revoked certificate")
	}
	if l := crlOf("m2m-pe", fresh.Chain[0]); listed(l, oldPE.Certificate.SerialNumber) {
		t.Error("the new m2m-pe CA's CRL lists a certificate it did not issue")
	}
	crlOf("legacy@1", oldRoot)
	crlOf("legacy@2", newRoot)
	for _, bad := range []string{"m2m-pe@3", "m2m-pe@x", "nope@1", "m2m-pe@0"} {
		if _, err := a.CRLOf(ctx, bad); err == nil {
			t.Errorf("CRL %q: no error", bad)
		}
	}

	// Both generations' keys are sealed sets of the master-key rotation.
	counts, err := a.SealedKeys().CountSealed(ctx)
	if err != nil || sum(counts) != 8 {
		t.Fatalf("sealed CA keys after rollover: %v %v", counts, err)
	}

	// The other node sees the new generation once refreshEvery passed.
	if r, _ := other.Root(ctx); !r.Equal(oldRoot) {
		t.Fatal("the other node re-read the CA before refreshEvery")
	}
	clock.Advance(refreshEvery)
	if r, _ := other.Root(ctx); !r.Equal(newRoot) {
		t.Fatal("the other node still uses the old root after refreshEvery")
	}

	// Retirement is refused while a certificate of the previous generation is live.
	if n, err := a.RetirePrevious(ctx, false); core.KindOf(err) != core.KindConflict || n != 1 || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("retire with a live old certificate: %d %v", n, err)
	}
	if err := other.CheckPartnerCertificate(ctx, oldLive.Certificate, EnvPE); err != nil {
		t.Fatalf("live old certificate before retirement: %v", err)
	}
	if n, err := a.RetirePrevious(ctx, true); err != nil || n != 1 {
		t.Fatalf("forced retirement: %d %v", n, err)
	}
	if _, err := a.RetirePrevious(ctx, true); core.KindOf(err) != core.KindNotFound {
		t.Fatalf("retire twice: %v", err)
	}
	clock.Advance(refreshEvery)
	if roots, _ := other.Roots(ctx); len(roots) != 1 || !roots[0].Equal(newRoot) {
		t.Fatalf("roots after retirement: %d", len(roots))
	}
	// No longer this CA's: the M2M trust falls back to its configured trusted_cas.
	if err := other.CheckPartnerCertificate(ctx, oldLive.Certificate, EnvPE); err != nil {
		t.Fatalf("retired generation's certificate: %v", err)
	}
	if _, err := other.CRLOf(ctx, "m2m-pe@1"); core.KindOf(err) != core.KindNotFound {
		t.Fatalf("CRL of the retired generation: %v", err)
	}
	if counts, _ := a.SealedKeys().CountSealed(ctx); sum(counts) != 4 {
		t.Fatalf("sealed CA keys after retirement: %v", counts)
	}
	// A further rollover is possible again and names generation 3.
	if r, err := a.Rollover(ctx, InitOptions{}); err != nil || r.Subject.CommonName != oldRoot.Subject.CommonName+" G3" {
		t.Fatalf("third generation: %v %v", r, err)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestAttack_CANameQuery: the public CRL and CA certificate endpoints
// take generation-qualified names; malformed, unknown and huge ones are
// refused without effect, and the roots bundle holds both generations.
func TestAttack_CANameQuery(t *testing.T) {
	e := startAPI(t)
	if _, err := e.ca.Rollover(context.Background(), InitOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want int
	}{
		{"m2m-pe@1", http.StatusOK}, {"m2m-pe@2", http.StatusOK}, {"m2m-pe", http.StatusOK}, {"legacy@1", http.StatusOK}, {"@1", http.StatusOK},
		{"m2m-pe@3", http.StatusNotFound}, {"m2m-pe@-1", http.StatusBadRequest}, {"m2m-pe@0", http.StatusBadRequest},
		{"m2m-pe@99999999999999999999", http.StatusBadRequest}, {"m2m-pe@1@1", http.StatusBadRequest}, {"m2m-pe@", http.StatusBadRequest},
		{"legacy", http.StatusBadRequest}, {"root@1", http.StatusBadRequest}, {"m2m-pe@%201", http.StatusBadRequest},
		{strings.Repeat("device@", 2000) + "1", http.StatusBadRequest},
	} {
		if resp, _ := e.do(t, "GET", "/ca/crl?ca="+tc.name, "", "", nil); resp.StatusCode != tc.want {
			t.Errorf("crl ?ca=%.40s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if resp, _ := e.do(t, "GET", "/ca/cacert?ca=device@1", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("cacert ?ca=device@1: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "GET", "/ca/cacert?ca=legacy@1", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("cacert ?ca=legacy@1: %d", resp.StatusCode)
	}
	resp, body := e.do(t, "GET", "/ca/cacert", "", "", nil)
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("roots bundle: %d %s", resp.StatusCode, body)
	}
}
