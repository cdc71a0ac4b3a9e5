package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// These tests cross families on purpose: a device certificate from the
// OAuth2 family's /identities, authgate's CA, and the M2M family's TA
// listener, composed as `authgate serve` composes them.

const caTestICCID = "8949020000000000033"

// dtSubject is the M2M partner's whole TA subject; the device CSR of the
// attack asks for exactly this.
var dtSubject = pkix.Name{Country: []string{"DE"}, Province: []string{"NRW"}, Locality: []string{"Bonn"},
	Organization: []string{"Deutsche Telekom"}, OrganizationalUnit: []string{"M2M_TA"}, CommonName: "ta.sample.org"}

const dtSubjectDN = "/C=DE/ST=NRW/L=Bonn/O=Deutsche Telekom/OU=M2M_TA/CN=ta.sample.org"

// caNode is one authgate node: the main listener (OAuth2 + identities),
// its CA, and a TA listener whose trust is chosen by the test.
type caNode struct {
	main      *agtest.Env
	authority *ca.Authority
	deps      m2m.Deps
	ta        *httptest.Server
}

// startCANode starts a node on opt's store. trust picks the TA
// listener's trusted_cas from the node's CA (initialised before).
func startCANode(t *testing.T, opt agtest.Options, trust func(context.Context, *ca.Authority) []*x509.Certificate) *caNode {
	t.Helper()
	n := &caNode{}
	n.main = agtest.Start(t, opt, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		n.authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(svc))
		ids, err := device.New(svc, n.authority, device.DefaultConfig(), device.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{o, ids}
	})
	ctx := context.Background()
	if _, err := n.authority.Init(ctx, ca.InitOptions{Algorithm: "rsa", RSABits: 2048}); err != nil && core.KindOf(err) != core.KindConflict {
		t.Fatal(err)
	}
	n.deps = m2m.DepsFrom(n.main.Svc, httpapi.ClientAddr{})
	n.deps.CA = n.authority
	n.startTA(t, trust)
	return n
}

// startTA (re)starts the node's TA listener: a fresh environment, as
// after a process restart (new verifier, new certificate cache, new CA
// handle on the same store).
func (n *caNode) startTA(t *testing.T, trust func(context.Context, *ca.Authority) []*x509.Certificate) {
	t.Helper()
	ctx := context.Background()
	n.authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(n.main.Svc))
	n.deps.CA = n.authority
	taCA, err := n.authority.IssuingCA(ctx, ca.CAM2MTA)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	plat := wssectest.NewCA(t, "platform", 7, now)
	tlsCert, tlsKey := plat.Issue(t, wssectest.Leaf{Slot: 60, Now: now, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	signCert, signKey := plat.Issue(t, wssectest.Leaf{Slot: 61, Now: now, OU: "M2M_TA"})
	trusted := trust(ctx, n.authority)
	pool := x509.NewCertPool()
	for _, c := range trusted {
		pool.AddCert(c)
	}
	mat := m2m.Material{
		TLS:        tls.Certificate{Certificate: [][]byte{tlsCert.Raw}, PrivateKey: tlsKey},
		SigningKey: signKey, SigningCert: signCert, TrustedCAs: pool, TrustedCACerts: trusted,
		Partners: []m2m.Partner{{Name: "dt", SigningSubjects: []string{dtSubjectDN}, SigningCA: taCA}},
	}
	env, err := m2m.NewEnv(ctx, m2m.EnvTA, m2m.DefaultConfig(), mat, n.deps)
	if err != nil {
		t.Fatal(err)
	}
	if n.ta != nil {
		n.ta.Close()
	}
	n.ta = httptest.NewServer(httpapi.NewHandler(httpapi.Options{Log: n.main.Svc.Log, Ready: n.main.Svc.Store}, env))
	t.Cleanup(n.ta.Close)
}

// trustTACA is the documented configuration: `authgate ca cacert --ca m2m-ta`.
func trustTACA(ctx context.Context, a *ca.Authority) []*x509.Certificate {
	c, _ := a.IssuingCA(ctx, ca.CAM2MTA)
	return []*x509.Certificate{c}
}

// soapSender signs SIMUsageGet messages with one certificate, each with a
// Timestamp one second after the last (never a replay of another).
type soapSender struct {
	signer *wssec.Signer
	clock  *core.ManualClock
}

func newSoapSender(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate) *soapSender {
	t.Helper()
	clock := core.NewManualClock(time.Now().Add(-30 * time.Second))
	s, err := wssec.NewSigner(key, cert, wssec.SignerOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &soapSender{signer: s, clock: clock}
}

// send posts one signed SIMUsageGet to a TA listener: nil when accepted.
func (s *soapSender) send(t *testing.T, taURL, apiKey string) *sdk.Fault {
	t.Helper()
	s.clock.Advance(time.Second)
	payload, _ := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: apiKey, ICCID: caTestICCID})
	raw, err := s.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(taURL+m2m.PathMon, "text/xml; charset=utf-8", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	f := sdk.ParseFault(body)
	if f == nil {
		t.Fatalf("HTTP %d without a SOAP fault: %s", resp.StatusCode, body)
	}
	return f
}

// partnerCertificate has the CA issue dt's TA signing certificate, as
// `authgate ca sign --profile signing --env TA` does.
func partnerCertificate(t *testing.T, a *ca.Authority) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := wssectest.Key(t, 2048, 62)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: dtSubject}, key)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := a.Sign(context.Background(), ca.SignRequest{CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		Profile: "signing", Environment: ca.EnvTA, OrgID: core.SystemOrgID})
	if err != nil {
		t.Fatal(err)
	}
	return key, iss.Certificate
}

// setUpPartner gives dt a TA API key and a SIM.
func (n *caNode) setUpPartner(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	key, err := m2m.CreateAPIKey(ctx, n.deps, m2m.EnvTA, "dt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2m.AddSIM(ctx, n.deps, m2m.EnvTA, "dt", caTestICCID, "M2M_BASIC"); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestAttack_DeviceCSRForM2MPartnerSubject: an organisation's user posts
// a CSR for the M2M partner's whole TA subject to POST
// /identities/certificates. The certificate it gets has authgate's
// subject, comes from the device CA, and the TA listener refuses it even
// with the partner's TA API key, whether the listener trusts the M2M TA
// CA (as documented), the root (the old advice), or every CA authgate has.
func TestAttack_DeviceCSRForM2MPartnerSubject(t *testing.T) {
	for _, tc := range []struct {
		name        string
		trust       func(context.Context, *ca.Authority) []*x509.Certificate
		partnerWork bool // the real partner's certificate is accepted
	}{
		{"trusted_cas = M2M TA CA", trustTACA, true},
		{"trusted_cas = root", func(ctx context.Context, a *ca.Authority) []*x509.Certificate {
			r, _ := a.Root(ctx)
			return []*x509.Certificate{r}
		}, false},
		{"trusted_cas = the whole `ca cacert` bundle", func(ctx context.Context, a *ca.Authority) []*x509.Certificate {
			r, _ := a.Root(ctx)
			in, _ := a.Intermediates(ctx)
			return append([]*x509.Certificate{r}, in...)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startCANode(t, agtest.Options{}, tc.trust)
			apiKey := n.setUpPartner(t)
			c := newClient(n.main.URL)
			admin := c.passwordGrant(t, 0, n.main.Admin.Key, n.main.Admin.Secret)
			r := c.do(0, "POST", "/accesskeys", http.Header{"Authorization": {"Bearer " + admin}, "Content-Type": {"application/json"}}, `{"Name":"Fleet Org"}`)
			if r.status != http.StatusCreated {
				t.Fatalf("create organisation: %d %s", r.status, r.body)
			}
			user := c.passwordGrant(t, 0, r.json(t)["Key"].(string), r.json(t)["Secret"].(string))

			// The attack: a device CSR with the partner's subject.
			devKey := wssectest.Key(t, 2048, 63)
			der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: dtSubject}, devKey)
			body, _ := json.Marshal(map[string]string{"CertificateRequest": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
			r = c.do(0, "POST", "/identities/certificates", http.Header{"Authorization": {"Bearer " + user}, "Content-Type": {"application/json"}}, string(body))
			if r.status != http.StatusCreated {
				t.Fatalf("device certificate: %d %s", r.status, r.body)
			}
			blk, _ := pem.Decode([]byte(r.json(t)["Certificate"].(string)))
			devCert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if s := devCert.Subject; len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != ca.DeviceOU || strings.Contains(s.String(), "Telekom") || strings.Contains(s.String(), "ta.sample.org") {
				t.Fatalf("device certificate subject %q: want authgate's, not the CSR's", s)
			}
			deviceCA, _ := n.authority.IssuingCA(ctx, ca.CADevice)
			taCA, _ := n.authority.IssuingCA(ctx, ca.CAM2MTA)
			if devCert.CheckSignatureFrom(deviceCA) != nil || devCert.CheckSignatureFrom(taCA) == nil {
				t.Fatal("device certificate not issued by the device CA")
			}
			f := newSoapSender(t, devKey, devCert).send(t, n.ta.URL, apiKey)
			if f == nil {
				t.Fatal("TA listener accepted a device certificate")
			}
			if f.Code != "wsse:FailedAuthentication" && f.Detail != sdk.ErrCertificateMismatch {
				t.Fatalf("device certificate on TA: fault %q/%q (%s)", f.Code, f.Detail, f.String)
			}
			// The partner's own certificate works where the configuration allows it.
			pk, pc := partnerCertificate(t, n.authority)
			if f := newSoapSender(t, pk, pc).send(t, n.ta.URL, apiKey); (f == nil) != tc.partnerWork {
				t.Fatalf("partner's certificate: fault %v, want accepted=%v", f, tc.partnerWork)
			}
		})
	}
}

// TestAttack_RevokedPartnerCertificateAccepted: a partner certificate
// revoked in authgate's CA (as `authgate ca revoke` does: a fresh CA
// handle on the store) is refused by the TA listener at the next message
// on every node, and after a restart. SQLite: one store, the second node
// is a restarted process; PostgreSQL: two nodes on one database.
func TestAttack_RevokedPartnerCertificateAccepted(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			opt := agtest.Options{MasterKey: newMasterKey(t)}
			if backend == "postgres" {
				opt.PostgresDSN = pgtest.DSN(t)
			}
			a := startCANode(t, opt, trustTACA)
			nodes := []*caNode{a}
			if backend == "postgres" {
				nodes = append(nodes, startCANode(t, opt, trustTACA))
			} else {
				// The same store, another process: a second TA listener on a.
				b := &caNode{main: a.main, deps: a.deps}
				b.startTA(t, trustTACA)
				nodes = append(nodes, b)
			}
			apiKey := a.setUpPartner(t)
			pk, pc := partnerCertificate(t, a.authority)
			s := newSoapSender(t, pk, pc)
			for i, n := range nodes {
				if f := s.send(t, n.ta.URL, apiKey); f != nil {
					t.Fatalf("node %d before revocation: %v", i, f)
				}
			}
			cli := ca.New(ca.DefaultConfig(), ca.DepsFrom(a.main.Svc))
			if _, err := cli.Revoke(context.Background(), ca.RevokeRequest{Serial: pc.SerialNumber.Text(16), Reason: "keyCompromise", OrgID: core.SystemOrgID}); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				for i, n := range nodes {
					f := s.send(t, n.ta.URL, apiKey)
					if f == nil || f.Code != "wsse:FailedAuthentication" || !strings.Contains(f.String, "revoked") {
						t.Fatalf("node %d %s: want wsse:FailedAuthentication (revoked), got %v", i, when, f)
					}
				}
			}
			check("right after the revocation")
			for _, n := range nodes {
				n.startTA(t, trustTACA)
			}
			check("after a restart")
			events, _ := a.main.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "m2m", Action: core.AuditAuthFailure})
			if len(events) < 2*len(nodes) {
				t.Fatalf("%d audited refusals, want %d", len(events), 2*len(nodes))
			}
		})
	}
}
