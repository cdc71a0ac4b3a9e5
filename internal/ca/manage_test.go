package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// TestOperationsAreAdminOnly: every CA operation of the admin API and
// the CLI is refused to each non-admin kind (audited as forbidden) and
// granted to an administrator and to the operator.
func TestOperationsAreAdminOnly(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	iss, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil),
		Profile: "signing", Environment: "TA"})
	if err != nil {
		t.Fatal(err)
	}
	serial := iss.Record.Serial
	ops := map[string]func(core.Gate) error{
		"list": func(by core.Gate) error { _, _, err := a.ListCertificates(ctx, by, "", core.Page{}); return err },
		"get":  func(by core.Gate) error { _, err := a.Certificate(ctx, by, serial); return err },
		"crl":  func(by core.Gate) error { _, err := a.CRLFor(ctx, by, CAM2MTA); return err },
		"issue": func(by core.Gate) error {
			_, err := a.IssueCertificate(ctx, by, IssueRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "x.sample.org"), nil), Profile: "signing", Environment: "TA"})
			return err
		},
		"revoke": func(by core.Gate) error { _, err := a.RevokeCertificate(ctx, by, serial, "superseded"); return err },
	}
	kinds := []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser, core.PrincipalDevice, core.PrincipalApplication, core.PrincipalPartner}
	for name, op := range ops {
		for _, k := range kinds {
			by := authzGate{actor: core.Actor{Kind: k, OrgID: core.SystemOrgID, PrincipalID: "p-" + string(k)}, authz: svc.Authz, remoteAddr: "192.0.2.9"}
			if err := op(by); core.KindOf(err) != core.KindForbidden {
				t.Errorf("%s as %s: %v, want forbidden", name, k, err)
			}
		}
		if err := op(authzGate{authz: svc.Authz}); core.KindOf(err) != core.KindForbidden {
			t.Errorf("%s with no actor: %v, want forbidden", name, err)
		}
		if err := op(nil); core.KindOf(err) != core.KindForbidden {
			t.Errorf("%s with no gate: %v, want forbidden", name, err)
		}
	}
	evs, err := svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditForbidden, PrincipalID: "p-owner", Limit: 100})
	if err != nil || len(evs) != len(ops) {
		t.Fatalf("forbidden audit records of the owner: %d %v, want %d", len(evs), err, len(ops))
	}
	if evs[0].Protocol != "ca" || evs[0].RemoteAddr != "192.0.2.9" {
		t.Errorf("refusal audited as %+v", evs[0])
	}
	admin := authzGate{actor: core.Actor{Kind: core.PrincipalAdmin, OrgID: core.SystemOrgID, PrincipalID: "adm"}, authz: svc.Authz}
	for _, name := range []string{"list", "get", "crl", "issue", "revoke"} { // revoke last
		if err := ops[name](admin); err != nil {
			t.Errorf("%s as admin: %v", name, err)
		}
	}
	rec, err := a.Certificate(ctx, admin, serial)
	if err != nil || rec.RevokedAt == nil || rec.RevocationReason != "superseded" {
		t.Fatalf("after the admin's revocation: %+v %v", rec, err)
	}
	// The operator's requests name no stored principal; an admin's do.
	if iss.Record.RequestedBy != "" {
		t.Errorf("operator's certificate requested_by %q", iss.Record.RequestedBy)
	}
	recs, _, _ := a.ListCertificates(ctx, admin, "", core.Page{})
	by := map[string]int{}
	for _, r := range recs {
		by[r.RequestedBy]++
	}
	if len(recs) != 2 || by["adm"] != 1 || by[""] != 1 {
		t.Errorf("requested_by of the operator's and the admin's certificates: %v", by)
	}
}

// TestAttack_CSRInput: the issue operation refuses a request whose
// signature does not verify, garbage and oversized PEM, a second block
// smuggled after the first, a CA request, and the device profile (whose
// subject authgate assigns) — each as an invalid-input error, audited.
func TestAttack_CSRInput(t *testing.T) {
	a, svc, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	good := makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil)
	blk, _ := pem.Decode(good)
	tampered := bytes.Clone(blk.Bytes)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	// The subject changed under the partner's signature: still parses, must not verify.
	swapped := bytes.Replace(bytes.Clone(blk.Bytes), []byte("ta.sample.org"), []byte("tb.sample.org"), 1)
	huge := "-----BEGIN CERTIFICATE REQUEST-----\n" + strings.Repeat("QUFB", MaxCSRSize/4+10) + "\n-----END CERTIFICATE REQUEST-----\n"
	cases := []struct {
		name, csr, profile, want string
	}{
		{"tampered signature", string(pemBlock("CERTIFICATE REQUEST", tampered)), "signing", "signature does not verify"},
		{"subject changed after signing", string(pemBlock("CERTIFICATE REQUEST", swapped)), "signing", "signature does not verify"},
		{"garbage PEM", "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n", "signing", "does not parse"},
		{"not PEM, not DER", "hello", "signing", "does not parse"},
		{"empty", "", "signing", "does not parse"},
		{"huge", huge, "signing", "larger than"},
		{"certificate instead", string(pemBlock("CERTIFICATE", blk.Bytes)), "signing", "want CERTIFICATE REQUEST"},
		{"two requests", string(good) + string(good), "signing", "exactly one"},
		{"device profile", string(good), "device", "/identities/certificates"},
		{"unknown profile", string(good), "root", "unknown profile"},
	}
	for _, c := range cases {
		_, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: []byte(c.csr), Profile: c.profile, Environment: "TA"})
		if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want invalid input %q", c.name, err, c.want)
		}
	}
	if _, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: good, Profile: "signing", Environment: "XX"}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("unknown environment: %v", err)
	}
	if _, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: good, Profile: "signing", Environment: "TA", ValidityDays: -1}); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("negative validity: %v", err)
	}
	recs, total, err := a.ListCertificates(ctx, core.Operator{}, "", core.Page{})
	if err != nil || total != 0 || len(recs) != 0 {
		t.Fatalf("after refused requests: %d certificates %v", total, err)
	}
	evs, _ := svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditIssue, Outcome: core.OutcomeFailure, Limit: 100})
	if len(evs) < len(cases) {
		t.Errorf("refused requests audited: %d, want at least %d", len(evs), len(cases))
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// TestAttack_RevokeSerials: a serial the CA never issued is not found, a
// malformed one invalid, a second revocation a conflict that leaves the
// first reason and time; the reason must be an RFC 5280 name.
func TestAttack_RevokeSerials(t *testing.T) {
	a, _, clock := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	iss, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", "pe.sample.org"), nil), Profile: "signing", Environment: "PE"})
	if err != nil {
		t.Fatal(err)
	}
	for serial, want := range map[string]core.Kind{
		"7fffffffffffffffffffffffffffffffffffffff": core.KindNotFound,
		"01":                      core.KindNotFound,
		"0":                       core.KindInvalidInput,
		"-5":                      core.KindInvalidInput,
		"zz":                      core.KindInvalidInput,
		strings.Repeat("f", 41):   core.KindInvalidInput,
		"../" + iss.Record.Serial: core.KindInvalidInput,
	} {
		if _, err := a.RevokeCertificate(ctx, core.Operator{}, serial, ""); core.KindOf(err) != want {
			t.Errorf("revoke %q: %v, want %v", serial, err, want)
		}
		if _, err := a.Certificate(ctx, core.Operator{}, serial); core.KindOf(err) != want {
			t.Errorf("get %q: %v, want %v", serial, err, want)
		}
	}
	if _, err := a.RevokeCertificate(ctx, core.Operator{}, iss.Record.Serial, "becauseISaidSo"); core.KindOf(err) != core.KindInvalidInput {
		t.Errorf("unknown reason: %v", err)
	}
	// openssl's form of the serial (colons, upper case) names the same certificate.
	colons := strings.ToUpper(iss.Record.Serial)
	first, err := a.RevokeCertificate(ctx, core.Operator{}, colons[:2]+":"+colons[2:], "keyCompromise")
	if err != nil || first.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", first, err)
	}
	clock.Advance(time.Hour)
	if _, err := a.RevokeCertificate(ctx, core.Operator{}, iss.Record.Serial, "superseded"); core.KindOf(err) != core.KindConflict {
		t.Fatalf("second revocation: %v, want conflict", err)
	}
	rec, _ := a.Certificate(ctx, core.Operator{}, iss.Record.Serial)
	if rec.RevocationReason != "keyCompromise" || !rec.RevokedAt.Equal(*first.RevokedAt) {
		t.Errorf("second revocation changed the record: %+v", rec)
	}
}

// TestAttack_OtherGenerationSerial: after a rollover, revoking a serial
// of the previous generation lists it on that generation's CRL
// (NAME@GEN) only; the current generation's CRL and certificates are
// untouched, and views name each certificate's generation.
func TestAttack_OtherGenerationSerial(t *testing.T) {
	a, _, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	issue := func(cn string) Issued {
		t.Helper()
		iss, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", cn), nil), Profile: "signing", Environment: "TA"})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	old := issue("old.sample.org")
	if _, err := a.Rollover(ctx, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	cur := issue("new.sample.org")
	if _, err := a.RevokeCertificate(ctx, core.Operator{}, old.Record.Serial, "superseded"); err != nil {
		t.Fatal(err)
	}
	crlOf := func(name string) *x509.RevocationList {
		t.Helper()
		der, err := a.CRLFor(ctx, core.Operator{}, name)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := a.IssuingCA(ctx, name)
		if err := crl.CheckSignatureFrom(signer); err != nil {
			t.Fatalf("CRL %s: %v", name, err)
		}
		return crl
	}
	if prev := crlOf("m2m-ta@1"); len(prev.RevokedCertificateEntries) != 1 || prev.RevokedCertificateEntries[0].SerialNumber.Cmp(old.Certificate.SerialNumber) != 0 {
		t.Errorf("generation 1 CRL: %v", prev.RevokedCertificateEntries)
	}
	for _, name := range []string{"m2m-ta", "m2m-ta@2"} {
		if c := crlOf(name); len(c.RevokedCertificateEntries) != 0 {
			t.Errorf("current CRL %s lists %v", name, c.RevokedCertificateEntries)
		}
	}
	if _, err := a.CRLFor(ctx, core.Operator{}, "m2m-ta@3"); core.KindOf(err) != core.KindNotFound {
		t.Errorf("CRL of a generation the CA does not hold: %v", err)
	}
	recs, _, err := a.ListCertificates(ctx, core.Operator{}, "", core.Page{})
	if err != nil || len(recs) != 2 {
		t.Fatalf("list: %v %v", recs, err)
	}
	now := a.Now()
	got := map[string]View{}
	for _, r := range recs {
		got[r.Serial] = ViewOf(r, now, false)
	}
	if v := got[old.Record.Serial]; v.IssuerRef != "m2m-ta@1" || v.Generation != 1 || v.Status != StatusRevoked || v.RevokedAt == nil {
		t.Errorf("previous generation's certificate: %+v", v)
	}
	if v := got[cur.Record.Serial]; v.IssuerRef != "m2m-ta@2" || v.Generation != 2 || v.Status != StatusValid || v.Certificate != "" {
		t.Errorf("current generation's certificate: %+v", v)
	}
}

// TestViewOf: days to expiry round down, status follows the clock and
// the revocation, the PEM only when asked for.
func TestViewOf(t *testing.T) {
	na := t0.Add(30*24*time.Hour + time.Hour)
	r := Record{Serial: "ab", Profile: "signing", Issuer: CAM2MPE, Environment: "PE", NotAfter: na, CertificatePEM: "PEM"}
	cases := []struct {
		now    time.Time
		days   int
		status string
	}{
		{t0, 30, StatusValid},
		{na.Add(-12 * time.Hour), 0, StatusValid},
		{na, 0, StatusExpired},
		{na.Add(time.Hour), -1, StatusExpired},
	}
	for _, c := range cases {
		v := ViewOf(r, c.now, false)
		if v.ExpiresInDays != c.days || v.Status != c.status || v.Certificate != "" || v.IssuerRef != "m2m-pe@1" {
			t.Errorf("at %v: %+v, want %d days %s", c.now, v, c.days, c.status)
		}
	}
	rt := t0
	r.RevokedAt, r.Issuer = &rt, ""
	if v := ViewOf(r, t0, true); v.Status != StatusRevoked || v.Certificate != "PEM" || v.IssuerRef != "legacy@1" {
		t.Errorf("revoked legacy: %+v", v)
	}
}

// TestExpiring: the dashboard's source lists the unrevoked certificates
// ending within the window, and reports a cut-short scan.
func TestExpiring(t *testing.T) {
	a, _, clock := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ctx := context.Background()
	serials := map[int]string{}
	for _, days := range []int{10, 20, 40} {
		iss, err := a.IssueCertificate(ctx, core.Operator{}, IssueRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M", "pe.sample.org"), nil),
			Profile: "signing", Environment: "PE", ValidityDays: days})
		if err != nil {
			t.Fatal(err)
		}
		serials[days] = iss.Record.Serial
	}
	if _, err := a.RevokeCertificate(ctx, core.Operator{}, serials[20], ""); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	recs, truncated, err := a.Expiring(ctx, now, now.Add(30*24*time.Hour), 100)
	if err != nil || truncated || len(recs) != 1 || recs[0].Serial != serials[10] {
		t.Fatalf("expiring: %v %v %v", recs, truncated, err)
	}
	if recs, _, _ := a.Expiring(ctx, now.Add(11*24*time.Hour), now.Add(60*24*time.Hour), 100); len(recs) != 1 || recs[0].Serial != serials[40] {
		t.Errorf("expired ones left out: %v", recs)
	}
	if _, truncated, _ := a.Expiring(ctx, now, now.Add(60*24*time.Hour), 2); !truncated {
		t.Error("a scan of 2 of 3 records is not reported truncated")
	}
}
