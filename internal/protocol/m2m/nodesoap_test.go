package m2m_test

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// requireNodeSoap finds node and the npm packages installed by
// scripts/deps.sh (npm ci in testdata/nodesoap), skipping only outside
// full CI runs.
func requireNodeSoap(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat("testdata/nodesoap/node_modules/soap/package.json")
	}
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("node and testdata/nodesoap/node_modules are required (scripts/deps.sh installs them): %v", err)
		}
		t.Skip("node-soap not installed")
	}
	return node
}

type nodeResult struct {
	OK     bool `json:"ok"`
	Result struct {
		ICCID      string `json:"ICCID"`
		DataVolume int64  `json:"DataVolume"`
		State      string `json:"State"`
	} `json:"result"`
	Fault struct {
		Faultcode   string `json:"faultcode"`
		Faultstring string `json:"faultstring"`
	} `json:"fault"`
	// Request and Response are the raw envelopes node-soap sent and received.
	Request  string `json:"request"`
	Response string `json:"response"`
}

var (
	createdRE = regexp.MustCompile(`<(?:\w+:)?Created[^>]*>([^<]+)</`)
	expiresRE = regexp.MustCompile(`<(?:\w+:)?Expires[^>]*>([^<]+)</`)
)

// timestampLifetime is Expires minus Created of the envelope's Timestamp.
func timestampLifetime(t *testing.T, envelope string) time.Duration {
	t.Helper()
	c, e := createdRE.FindStringSubmatch(envelope), expiresRE.FindStringSubmatch(envelope)
	if c == nil || e == nil {
		t.Fatalf("no Timestamp in %s", envelope)
	}
	created, err1 := time.Parse(time.RFC3339Nano, c[1])
	expires, err2 := time.Parse(time.RFC3339Nano, e[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("Timestamp %q %q: %v %v", c[1], e[1], err1, err2)
	}
	return expires.Sub(created)
}

// runNodeSoap sends SIMUsageGet to w with node-soap, signed with the partner's key.
func runNodeSoap(t *testing.T, node string, w *world) nodeResult {
	return runNodeSoapICCID(t, node, w, iccid)
}

func runNodeSoapICCID(t *testing.T, node string, w *world, iccid string) nodeResult {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := wssectest.WriteFiles(t, dir, "partner", w.pCert, w.pKey)
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", w.ca.Cert, nil)
	cmd := exec.Command(node, filepath.Join("testdata", "nodesoap", "sign_request.js"))
	cmd.Env = append(os.Environ(),
		"WSDL_URL="+w.srv.URL+m2m.PathMon+"?wsdl", "KEY_PEM="+keyPath, "CERT_PEM="+certPath,
		"API_KEY="+w.apiKey, "ICCID="+iccid, "NODE_EXTRA_CA_CERTS="+caPath)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s\n%s", err, out, stderr)
	}
	var r nodeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	return r
}

// TestNodeSoapWSSecurityCert: a SIMUsageGet built from authgate's WSDL and
// signed by node-soap's WSSecurityCert (a client nobody here wrote) is
// accepted, and authgate's signed answer is parsed by node-soap.
//
// node-soap hard-codes a 10-minute Timestamp lifetime, twice what the M2M
// document prescribes. The longest lifetime accepted is set per partner
// (or per environment) with max_timestamp_ttl; timestamp_ttl, the lifetime
// authgate writes, stays at its default of 300 s throughout, and every
// answer node-soap receives carries 300 s.
func TestNodeSoapWSSecurityCert(t *testing.T) {
	node := requireNodeSoap(t)
	acme := func(ttl time.Duration) func(*world, *m2m.Material) {
		return func(_ *world, m *m2m.Material) { m.Partners[0].MaxTimestampTTL = ttl }
	}
	for _, tc := range []struct {
		name     string
		material func(*world, *m2m.Material)
		accepted bool
	}{
		{"defaults refuse node-soap's 10 minutes", nil, false},
		{"partner allows 10m", acme(10 * time.Minute), true},
		{"environment allows 10m", func(_ *world, m *m2m.Material) { m.MaxTimestampTTL = 10 * time.Minute }, true},
		{"partner's 5m overrides the environment's 10m", func(w *world, m *m2m.Material) {
			m.MaxTimestampTTL = 10 * time.Minute
			acme(5*time.Minute)(w, m)
		}, false},
		{"another partner's 10m does not widen acme's", func(w *world, m *m2m.Material) {
			other, _ := w.ca.Issue(t, wssectest.Leaf{CN: "ta.other.org", OU: "M2M_TA", Slot: 20, Now: w.now})
			m.Partners = append(m.Partners, m2m.Partner{Name: "other", SigningCerts: []*x509.Certificate{other}, MaxTimestampTTL: 10 * time.Minute})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{material: tc.material})
			if ttl := w.cfg.TimestampTTL; ttl != 300*time.Second {
				t.Fatalf("timestamp_ttl %v, want the default 300 s", ttl)
			}
			r := runNodeSoap(t, node, w)
			if sent := timestampLifetime(t, r.Request); sent != 10*time.Minute {
				t.Fatalf("node-soap sent a %v Timestamp, the test assumes 10m", sent)
			}
			if !tc.accepted {
				if r.OK || !strings.HasSuffix(r.Fault.Faultcode, "InvalidSecurity") || !strings.Contains(r.Fault.Faultstring, "lifetime exceeds 5m0s") {
					t.Fatalf("want a TTL fault, got %+v", r)
				}
				return
			}
			if !r.OK || r.Result.ICCID != iccid || r.Result.DataVolume != 1<<20 || r.Result.State != "SHIPPED" {
				t.Fatalf("node-soap result %+v", r)
			}
			if got := timestampLifetime(t, r.Response); got != 300*time.Second {
				t.Fatalf("authgate answered with a %v Timestamp, want 300 s", got)
			}
		})
	}
}

// TestNodeSoapReadsRefusalFaults: a request over max_message_bytes is
// refused by the listener with HTTP 413 and a SOAP Fault, which node-soap
// hands to its caller as a Fault (before, a JSON body it could not parse).
func TestNodeSoapReadsRefusalFaults(t *testing.T) {
	node := requireNodeSoap(t)
	w := newWorld(t, worldOptions{cfg: func(c *m2m.Config) { c.MaxMessageBytes = 8192 }})
	r := runNodeSoapICCID(t, node, w, strings.Repeat("8", 9000))
	if r.OK || r.Fault.Faultcode != "soap:Client" || !strings.Contains(r.Fault.Faultstring, "request body larger than 8192 bytes") {
		t.Fatalf("want a soap:Client fault about the size, got %+v", r)
	}
}
