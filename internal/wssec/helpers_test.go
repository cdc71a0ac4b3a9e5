package wssec_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

const payload = `<m:SIMUsageGet xmlns:m="urn:authgate:m2m:v30"><m:M2MApiKey>k.s</m:M2MApiKey><m:ICCID>8949020000000000001</m:ICCID></m:SIMUsageGet>`

// fixture is a CA, a valid partner certificate and key, and a clock.
type fixture struct {
	now   time.Time
	clock *core.ManualClock
	ca    *wssectest.CA
	cert  *x509.Certificate
	key   *rsa.PrivateKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ca := wssectest.NewCA(t, "Test M2M CA", 0, now)
	cert, key := ca.Issue(t, wssectest.Leaf{Now: now, OU: "M2M_TA"})
	return &fixture{now: now, clock: core.NewManualClock(now), ca: ca, cert: cert, key: key}
}

func (f *fixture) signer(t testing.TB, opt wssec.SignerOptions) *wssec.Signer {
	t.Helper()
	if opt.Clock == nil {
		opt.Clock = f.clock
	}
	s, err := wssec.NewSigner(f.key, f.cert, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) verifier(t testing.TB, p wssec.Policy) *wssec.Verifier {
	t.Helper()
	if p.Roots == nil && p.Pinned == nil {
		p.Roots = f.ca.Pool()
	}
	if p.Clock == nil {
		p.Clock = f.clock
	}
	v, err := wssec.NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) sign(t testing.TB) []byte {
	t.Helper()
	b, err := f.signer(t, wssec.SignerOptions{}).Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t testing.TB, b []byte) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return doc
}

func write(t testing.TB, doc *etree.Document) []byte {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resign recomputes the signature over SignedInfo after a test edited it,
// with key: the result is what a (misconfigured or hostile) holder of a
// valid key could send.
func resign(t testing.TB, doc *etree.Document, key *rsa.PrivateKey) {
	t.Helper()
	si := doc.FindElement("//SignedInfo")
	ctx, err := etreeutils.NSBuildParentContext(si)
	if err != nil {
		t.Fatal(err)
	}
	det, err := etreeutils.NSDetatch(ctx, si)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(det)
	if err != nil {
		t.Fatal(err)
	}
	h := crypto.SHA256.New()
	h.Write(c)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	doc.FindElement("//SignatureValue").SetText(base64.StdEncoding.EncodeToString(sig))
}

// pinned is the fixture's certificate as the only pinned one.
func (f *fixture) pinned() []*x509.Certificate { return []*x509.Certificate{f.cert} }
