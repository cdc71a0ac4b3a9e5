package oauth2_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestDeviceCertificateAfterCARollover: a CA rollover made by another
// node (here: a second Authority on the same store, as `authgate ca
// rollover` is) reaches the mTLS listener without a reload; device
// certificates of the previous generation keep authenticating, can still
// be revoked, and stop when the previous generation is retired.
func TestDeviceCertificateAfterCARollover(t *testing.T) {
	w := newIDWorldOn(t, agtest.Options{ManualClock: time.Now().Truncate(time.Second)})
	ctx := context.Background()
	issue := func(name string) issuedCert {
		t.Helper()
		var c issuedCert
		if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, `{"Name":"`+name+`"}`, &c); st != http.StatusCreated {
			t.Fatalf("issue %s: %d", name, st)
		}
		return c
	}
	current := func(c issuedCert) int {
		t.Helper()
		gc := w.mtlsClient(t, c)
		defer gc.CloseIdleConnections()
		resp, err := gc.Get(w.mtlsURL + "/identities/current")
		if err != nil {
			return 0 // handshake refused
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	kept, revoked := issue("sensor-old"), issue("sensor-revoked")
	if st := current(kept); st != http.StatusOK {
		t.Fatalf("before rollover: %d", st)
	}

	cli := ca.New(ca.DefaultConfig(), ca.DepsFrom(w.env.Svc)) // the CLI's authority
	newRoot, err := cli.Rollover(ctx, ca.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.env.Clock.Advance(5 * time.Second) // the bound on picking up the new generation

	fresh := issue("sensor-new")
	block, _ := pem.Decode([]byte(fresh.Certificate))
	leaf, _ := x509.ParseCertificate(block.Bytes)
	devCA, err := cli.IssuingCA(ctx, ca.CADevice)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(newRoot)
	inter.AddCert(devCA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: w.env.Clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("device certificate issued after the rollover does not chain to the new root: %v", err)
	}
	for _, c := range []issuedCert{kept, revoked, fresh} {
		if st := current(c); st != http.StatusOK {
			t.Fatalf("after rollover, %s: %d", c.Identity, st)
		}
	}

	// Revocation of a previous-generation certificate is effective.
	if _, err := cli.Revoke(ctx, ca.RevokeRequest{Serial: revoked.SerialNumber, Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	if st := current(revoked); st != http.StatusUnauthorized {
		t.Fatalf("revoked previous-generation certificate: %d", st)
	}

	// Retirement is refused while one is live; forced, it ends them.
	if n, err := cli.RetirePrevious(ctx, false); core.KindOf(err) != core.KindConflict || n != 1 {
		t.Fatalf("retire with a live certificate: %d %v", n, err)
	}
	if _, err := cli.RetirePrevious(ctx, true); err != nil {
		t.Fatal(err)
	}
	w.env.Clock.Advance(5 * time.Second)
	if st := current(kept); st != 0 {
		t.Fatalf("certificate of the retired generation: %d, want a refused handshake", st)
	}
	if st := current(fresh); st != http.StatusOK {
		t.Fatalf("current generation after retirement: %d", st)
	}
}
