package ca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// legacyStore writes the CA as installations made before the issuing CAs
// stored it: a root (path length 0, issuing directly) or, with
// intermediate, a root and one issuing intermediate. It returns an
// Authority-free view of that CA's issuer for signing legacy certificates.
func legacyStore(t *testing.T, a *Authority, intermediate bool) (root *x509.Certificate, iss issuer) {
	t.Helper()
	ctx := context.Background()
	opt := InitOptions{Algorithm: "rsa", RSABits: 2048}
	opt.defaults()
	now := a.deps.Clock.Now()
	rootKey, err := a.newKey(opt)
	if err != nil {
		t.Fatal(err)
	}
	pathLen := 0
	if intermediate {
		pathLen = 1
	}
	root, err = a.caCert(pkix.Name{CommonName: "authgate M2M Root CA", Organization: []string{"authgate"}}, rootKey, nil, nil, now, opt.RootValidity, pathLen)
	if err != nil {
		t.Fatal(err)
	}
	doc := authorityDoc{RootPEM: pemCert(root), CreatedAt: now, KeyAlgorithm: "rsa", HasIssuingSub: intermediate}
	if doc.RootKey, err = a.sealKey(rootKey, root); err != nil {
		t.Fatal(err)
	}
	iss = issuer{cert: root, key: rootKey}
	if intermediate {
		k, _ := a.newKey(opt)
		c, err := a.caCert(pkix.Name{CommonName: "authgate M2M Root CA (issuing)", Organization: []string{"authgate"}}, k, root, rootKey, now, opt.IssuerValidity, 0)
		if err != nil {
			t.Fatal(err)
		}
		doc.IssuerPEM = pemCert(c)
		if doc.IssuerKey, err = a.sealKey(k, c); err != nil {
			t.Fatal(err)
		}
		iss = issuer{cert: c, key: k}
	}
	data, _ := json.Marshal(doc)
	if err := a.deps.Docs.PutDocument(ctx, core.Document{Collection: collCA, ID: idAuthority, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return root, iss
}

// legacySign issues a certificate the way the CA did before the issuing
// CAs existed: signed by the legacy issuer, the subject copied from the
// CSR (for devices too), a record without an issuer name.
func legacySign(t *testing.T, a *Authority, iss issuer, csrPEM []byte, profile string, env Environment) *x509.Certificate {
	t.Helper()
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	prof := profiles[profile]
	serial, _ := a.serial()
	now := a.deps.Clock.Now()
	der, err := x509.CreateCertificate(a.deps.Rand, &x509.Certificate{SerialNumber: serial, RawSubject: csr.RawSubject,
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour), KeyUsage: prof.KeyUsage, ExtKeyUsage: prof.ExtKeyUsage,
		BasicConstraintsValid: true}, iss.cert, csr.PublicKey, iss.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(der)
	rec := Record{Serial: serial.Text(16), Profile: profile, Environment: string(env), Subject: csr.Subject.String(),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, SHA256: hex.EncodeToString(sum[:]), CertificatePEM: pemCert(cert), IssuedAt: now}
	data, _ := json.Marshal(rec)
	if err := a.deps.Docs.PutDocument(context.Background(), core.Document{Collection: collCerts, ID: rec.Serial, OrgID: core.SystemOrgID, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestMigrationOfRootOnlyCA: a store made before the issuing CAs (a root
// only, or a root and its intermediate) gets the three issuing CAs on its
// first use, once even when two nodes start together; what the old CA
// issued keeps verifying, is revocable on the legacy CRL, and a legacy
// device certificate with a partner's subject is still not a partner's.
func TestMigrationOfRootOnlyCA(t *testing.T) {
	for _, tc := range []struct {
		name         string
		intermediate bool
		postgres     bool
	}{
		{"root only", false, false},
		{"root and intermediate", true, false},
		{"root only, two nodes on PostgreSQL", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := agtest.Options{ManualClock: t0, MasterKey: make([]byte, core.MasterKeySize)}
			if tc.postgres {
				opt.PostgresDSN = pgtest.DSN(t)
			}
			svcA, _ := agtest.NewServices(t, opt)
			svcB := svcA
			if tc.postgres {
				svcB, _ = agtest.NewServices(t, opt)
				svcB.Clock = svcA.Clock
			}
			a := New(DefaultConfig(), DepsFrom(svcA))
			oldRoot, legacy := legacyStore(t, a, tc.intermediate)
			ctx := context.Background()
			partnerCSR := makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil)
			oldPartner := legacySign(t, a, legacy, partnerCSR, "signing", EnvTA)
			// The attack of the old CA: a device CSR with a partner's subject.
			oldDevice := legacySign(t, a, legacy, partnerCSR, "device", "")

			// Two nodes start at once: both migrate, one wins, both agree.
			nodes := []*Authority{New(DefaultConfig(), DepsFrom(svcA)), New(DefaultConfig(), DepsFrom(svcB))}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, n := range nodes {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[i] = n.IssuingCA(ctx, CAM2MTA) }()
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("migration: %v / %v", errs[0], errs[1])
			}
			for _, name := range IssuingCAs() {
				x, _ := nodes[0].IssuingCA(ctx, name)
				y, _ := nodes[1].IssuingCA(ctx, name)
				if !x.Equal(y) {
					t.Fatalf("nodes disagree on the %s CA", name)
				}
			}
			root, _ := nodes[0].Root(ctx)
			if tc.intermediate != root.Equal(oldRoot) {
				t.Errorf("root re-certified = %v, want %v (only a path-length-0 root is)", !root.Equal(oldRoot), !tc.intermediate)
			}
			if !bytes.Equal(root.RawSubjectPublicKeyInfo, oldRoot.RawSubjectPublicKeyInfo) || root.Subject.String() != oldRoot.Subject.String() {
				t.Error("the root's key or name changed")
			}

			// New certificates: strict path validation from the root.
			iss, err := nodes[1].Sign(ctx, SignRequest{CSR: partnerCSR, Profile: "signing", Environment: EnvTA})
			if err != nil {
				t.Fatal(err)
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root)
			inter.AddCert(iss.Chain[0])
			if tc.intermediate {
				inter.AddCert(legacy.cert)
			}
			verify := func(c *x509.Certificate, r *x509.CertPool) error {
				_, err := c.Verify(x509.VerifyOptions{Roots: r, Intermediates: inter, CurrentTime: t0.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
				return err
			}
			if err := verify(iss.Certificate, roots); err != nil {
				t.Errorf("new certificate under the migrated root: %v", err)
			}
			// Old certificates: under the new root certificate and the old one.
			oldRoots := x509.NewCertPool()
			oldRoots.AddCert(oldRoot)
			for _, r := range []*x509.CertPool{roots, oldRoots} {
				if err := verify(oldPartner, r); err != nil {
					t.Errorf("legacy certificate: %v", err)
				}
			}
			// The device listener still takes legacy device certificates.
			dev, _ := nodes[0].DeviceIssuers(ctx)
			devPool := x509.NewCertPool()
			for _, c := range dev {
				devPool.AddCert(c)
			}
			if _, err := oldDevice.Verify(x509.VerifyOptions{Roots: devPool, CurrentTime: t0.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("legacy device certificate at the device listener: %v", err)
			}

			// WS-Security's questions to the CA, on both nodes.
			for i, n := range nodes {
				if err := n.CheckPartnerCertificate(ctx, oldPartner, EnvTA); err != nil {
					t.Errorf("node %d: legacy partner certificate: %v", i, err)
				}
				if err := n.CheckPartnerCertificate(ctx, oldDevice, EnvTA); core.KindOf(err) != core.KindForbidden {
					t.Errorf("node %d: legacy device certificate with a partner subject: %v", i, err)
				}
				if err := n.CheckPartnerCertificate(ctx, iss.Certificate, EnvPE); core.KindOf(err) != core.KindForbidden {
					t.Errorf("node %d: TA certificate asked about for PE: %v", i, err)
				}
			}
			if _, err := nodes[0].Revoke(ctx, RevokeRequest{Serial: oldPartner.SerialNumber.Text(16), Reason: "keyCompromise"}); err != nil {
				t.Fatal(err)
			}
			for i, n := range nodes {
				if err := n.CheckPartnerCertificate(ctx, oldPartner, EnvTA); core.KindOf(err) != core.KindRevoked {
					t.Errorf("node %d: revoked legacy certificate: %v", i, err)
				}
			}
			// It is on the legacy issuer's CRL, signed by the legacy issuer, and on no issuing CA's.
			der, err := nodes[1].CRLOf(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			crl, _ := x509.ParseRevocationList(der)
			if crl.CheckSignatureFrom(legacy.cert) != nil || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(oldPartner.SerialNumber) != 0 {
				t.Errorf("legacy CRL: %+v", crl.RevokedCertificateEntries)
			}
			der, _ = nodes[1].CRLOf(ctx, CAM2MTA)
			if crl, _ := x509.ParseRevocationList(der); len(crl.RevokedCertificateEntries) != 0 {
				t.Error("legacy revocation on the M2M TA CA's CRL")
			}
		})
	}
}
