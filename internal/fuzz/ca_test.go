package fuzz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/ca/cnf"
	"github.com/authgate/authgate/internal/core"
)

// FuzzCAParseCSR feeds small arbitrary inputs to the CSR reader: no
// panics, and every refusal is a policy (invalid input) error.
func FuzzCAParseCSR(f *testing.F) {
	for _, s := range []string{"", "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n",
		"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "\x30\x03\x02\x01\x00", "\x30\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ca.ParseCSR(data); err != nil && core.KindOf(err) != core.KindInvalidInput {
			t.Fatalf("error of kind %v: %v", core.KindOf(err), err)
		}
	})
}

// FuzzCAPolicy builds a correctly signed CSR from fuzzed subject
// attributes, SAN, key and requested extensions (small inputs, every one of
// which reaches the policy: mutated DER would almost never pass the request
// signature) and checks it against every profile and environment. Whatever
// passes has the key the setup document requires, the environment's OU,
// no host names outside the server profile, and, as a device certificate,
// the subject authgate assigns whatever the request asked for.
func FuzzCAPolicy(f *testing.F) {
	keys := fuzzKeys(f)
	f.Add(uint8(0), "DE", "Sample Organization S.E.", "M2M_TA", "ta.sample.org", "", uint8(0))
	f.Add(uint8(0), "DE", "Deutsche Telekom", "M2M", "m2m.sample.org", "m2m.sample.org", uint8(2))
	f.Add(uint8(1), "DE", "Sample", "M2M", "m2m.sample.org", "a.example", uint8(1))
	f.Add(uint8(2), "DEU", "", "M2M_TA", "", "*.x", uint8(3))
	a := ca.New(ca.DefaultConfig(), ca.Deps{})
	device := &ca.DeviceSubject{DeviceID: "dev-1", OrgID: "org-1"}
	f.Fuzz(func(t *testing.T, key uint8, c, o, ou, cn, dns string, ext uint8) {
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{Country: nonEmpty(c), Organization: nonEmpty(o),
			OrganizationalUnit: nonEmpty(ou), CommonName: cn}}
		if dns != "" {
			tmpl.DNSNames = []string{dns}
		}
		switch ext % 4 {
		case 1: // a CA
			v, _ := asn1.Marshal(struct{ IsCA bool }{true})
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: cnf.OIDBasicConstraints, Value: v})
		case 2: // serverAuth
			v, _ := asn1.Marshal([]asn1.ObjectIdentifier{cnf.ExtKeyUsageOIDs["serverAuth"]})
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: cnf.OIDExtKeyUsage, Value: v})
		case 3: // clientAuth
			v, _ := asn1.Marshal([]asn1.ObjectIdentifier{cnf.ExtKeyUsageOIDs["clientAuth"]})
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: cnf.OIDExtKeyUsage, Value: v})
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, keys[int(key)%len(keys)])
		if err != nil {
			return // attributes crypto/x509 will not encode
		}
		for _, pn := range ca.ProfileNames() {
			prof, _ := ca.LookupProfile(pn)
			for _, env := range []ca.Environment{ca.EnvTA, ca.EnvPE, ""} {
				req := ca.SignRequest{CSR: der, Profile: pn, Environment: env}
				if prof.AssignedSubject {
					req.Device = device
				}
				got, err := a.Check(req)
				if err != nil {
					if k := core.KindOf(err); k != core.KindInvalidInput {
						t.Fatalf("profile %s env %q: error of kind %v: %v", pn, env, k, err)
					}
					continue
				}
				if prof.RSAOnly {
					if k, ok := got.CSR.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() < 2048 {
						t.Fatalf("profile %s accepted key %T", pn, got.CSR.PublicKey)
					}
				}
				if env != "" && (len(tmpl.Subject.OrganizationalUnit) != 1 || tmpl.Subject.OrganizationalUnit[0] != env.OU()) {
					t.Fatalf("profile %s: OU %q accepted for %s", pn, tmpl.Subject.OrganizationalUnit, env)
				}
				if !prof.ServerNames && (len(got.DNSNames) > 0 || len(got.IPs) > 0) {
					t.Fatalf("profile %s accepted host names %v %v", pn, got.DNSNames, got.IPs)
				}
				if prof.AssignedSubject {
					want := ca.DeviceName(*device).String()
					if got.Subject != want || strings.Contains(got.Subject, "M2M") {
						t.Fatalf("device certificate subject %q, want %q", got.Subject, want)
					}
				}
			}
		}
	})
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// fuzzKeys are the keys FuzzCAPolicy signs with: RSA 2048 (the document's),
// RSA 1024 (too small) and ECDSA P-256 (not RSA).
func fuzzKeys(f *testing.F) []crypto.Signer {
	var keys []crypto.Signer
	for _, bits := range []int{2048, 1024} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			f.Fatal(err)
		}
		keys = append(keys, k)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	return append(keys, ec)
}

// FuzzCAName feeds the public ?ca= name (CRL, CA certificate) to its
// parser: no panics, refusals are invalid input, and what passes names a
// known issuing CA (or the legacy issuer) and a non-negative generation.
func FuzzCAName(f *testing.F) {
	for _, s := range []string{"", "device", "m2m-pe@1", "legacy@2", "@1", "device@0", "device@-1", "x@1@2", "m2m-ta@99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, gen, err := ca.ParseCAName(s)
		if err != nil {
			if core.KindOf(err) != core.KindInvalidInput {
				t.Fatalf("error of kind %v: %v", core.KindOf(err), err)
			}
			return
		}
		if gen < 0 || name != "" && name != ca.CADevice && name != ca.CAM2MTA && name != ca.CAM2MPE {
			t.Fatalf("%q parsed as %q generation %d", s, name, gen)
		}
	})
}

// FuzzCASerial feeds the {serial} path value of the CA's admin routes
// (and `authgate ca get|revoke SERIAL`) to its parser: no panics,
// refusals are invalid input, and what passes is the canonical lower-case
// hex of a positive number of at most 20 bytes, which parses to itself.
func FuzzCASerial(f *testing.F) {
	for _, s := range []string{"", "0", "01", "0x1F", "AB:CD:EF", "-5", "zz", strings.Repeat("f", 40), strings.Repeat("f", 41), "../ab", "1f\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ca.NormaliseSerial(s)
		if err != nil {
			if core.KindOf(err) != core.KindInvalidInput {
				t.Fatalf("error of kind %v: %v", core.KindOf(err), err)
			}
			return
		}
		if got == "" || len(got) > 40 || got[0] == '0' || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("%q normalised to %q", s, got)
		}
		if again, err := ca.NormaliseSerial(got); err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
