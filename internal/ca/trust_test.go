package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestCheckPartnerCertificate: the CA's answer for what it signed, and
// no opinion on what it did not sign or before it exists.
func TestCheckPartnerCertificate(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	ta, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "signing", Environment: EnvTA})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "ssl-server", Environment: EnvTA})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	foreign, err := other.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "signing", Environment: EnvTA})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		env  Environment
		ok   bool      // nil expected
		want core.Kind // otherwise
	}{
		{"TA signing certificate on TA", ta.Certificate, EnvTA, true, 0},
		{"TA signing certificate on PE", ta.Certificate, EnvPE, false, core.KindForbidden},
		{"SSL server certificate", srv.Certificate, EnvTA, false, core.KindForbidden},
		{"another CA's certificate", foreign.Certificate, EnvTA, true, 0},
	} {
		err := a.CheckPartnerCertificate(ctx, tc.cert, tc.env)
		if (tc.ok && err != nil) || (!tc.ok && (err == nil || core.KindOf(err) != tc.want)) {
			t.Errorf("%s: %v, want ok=%v kind %v", tc.name, err, tc.ok, tc.want)
		}
	}
	// Not initialised: nothing was issued here.
	empty, _ := agtest.NewServices(t, agtest.Options{})
	if err := New(DefaultConfig(), DepsFrom(empty)).CheckPartnerCertificate(ctx, ta.Certificate, EnvTA); err != nil {
		t.Errorf("uninitialised CA: %v", err)
	}
	// A record whose certificate differs (same serial) is not this one.
	rec, d, _ := a.Get(ctx, ta.Record.Serial)
	rec.SHA256 = "00"
	d.Data = mustJSON(t, rec)
	if _, err := svc.Store.UpdateDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckPartnerCertificate(ctx, ta.Certificate, EnvTA); core.KindOf(err) != core.KindForbidden {
		t.Errorf("record of another certificate: %v", err)
	}
}

// BenchmarkCheckPartnerCertificate is the per-message cost of the CA's
// revocation answer on SQLite (one primary-key read).
func BenchmarkCheckPartnerCertificate(b *testing.B) {
	a, _, _ := newCA(b, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	iss, err := a.Sign(ctx, SignRequest{CSR: makeCSR(b, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: "signing", Environment: EnvTA})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.CheckPartnerCertificate(ctx, iss.Certificate, EnvTA); err != nil {
			b.Fatal(err)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
