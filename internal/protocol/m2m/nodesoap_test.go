package m2m_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
}

// TestNodeSoapWSSecurityCert: a SIMUsageGet built from authgate's WSDL and
// signed by node-soap's WSSecurityCert (a client nobody here wrote) is
// accepted, and authgate's signed answer is parsed by node-soap.
//
// node-soap hard-codes a 10-minute Timestamp lifetime, twice what the M2M
// document prescribes: with the default timestamp_ttl of 300 s the request
// is refused for exactly that reason, and accepted once the limit is raised.
func TestNodeSoapWSSecurityCert(t *testing.T) {
	node := requireNodeSoap(t)
	run := func(t *testing.T, w *world) nodeResult {
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

	t.Run("default TTL refuses node-soap's 10 minutes", func(t *testing.T) {
		r := run(t, newWorld(t, worldOptions{}))
		if r.OK || !strings.HasSuffix(r.Fault.Faultcode, "InvalidSecurity") || !strings.Contains(r.Fault.Faultstring, "lifetime exceeds") {
			t.Fatalf("want a TTL fault, got %+v", r)
		}
	})
	t.Run("accepted with timestamp_ttl 10m", func(t *testing.T) {
		r := run(t, newWorld(t, worldOptions{cfg: func(c *m2m.Config) { c.TimestampTTL = 10 * time.Minute }}))
		if !r.OK || r.Result.ICCID != iccid || r.Result.DataVolume != 1<<20 || r.Result.State != "SHIPPED" {
			t.Fatalf("node-soap result %+v", r)
		}
	})
}
