package cli

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// /metrics (route names, request counts, process details) was served on
// every listener, the partner-facing M2M TA and PE listeners included.
// They answer 404; the main listener serves it unless metrics_listen moves
// it to a listener of its own, which then serves it alone.
func TestAttack_MetricsOnPartnerListeners(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca := wssectest.NewCA(t, "Test CA", 0, now)
	files := map[string][2]string{}
	issue := func(name string, l wssectest.Leaf) { files[name] = writeLeaf(t, dir, ca, now, name, l) }
	issue("ta-tls", loopbackServer(30))
	issue("pe-tls", loopbackServer(33))
	issue("ta-sign", wssectest.Leaf{Slot: 31, OU: "M2M_TA"})
	issue("pe-sign", wssectest.Leaf{Slot: 34, OU: "M2M"})
	issue("ta-partner", wssectest.Leaf{Slot: 32, OU: "M2M_TA", CN: "ta.sample.org"})
	issue("pe-partner", wssectest.Leaf{Slot: 35, OU: "M2M", CN: "m2m.sample.org"})
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", ca.Cert, nil)
	taAddr, peAddr, metricsAddr := freePort(t), freePort(t), freePort(t)
	env := func(name, addr, sign, partner, port string) string {
		return fmt.Sprintf(`  %s:
    listen: %s
    tls_cert: %s
    tls_key: %s
    signing_cert: %s
    signing_key: %s
    callback_cas: [%s]
    partners:
      - name: acme-%s
        signing_certs: [%s]
        adm_cl_url: https://127.0.0.1:%s/M2MAdmCl
        mon_cl_url: https://127.0.0.1:%s/M2MMonCl
`, name, addr, files[name+"-tls"][0], files[name+"-tls"][1], files[sign][0], files[sign][1], caPath, name, files[partner][0], port, port)
	}
	m2mCfg := "m2m:\n  enabled: true\n" + env("ta", taAddr, "ta-sign", "ta-partner", "1") + env("pe", peAddr, "pe-sign", "pe-partner", "2")
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test only
	get := func(t *testing.T, url string) int {
		t.Helper()
		resp, err := insecure.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.HasSuffix(url, "/metrics") && !strings.Contains(string(b), "go_goroutines") {
			t.Fatalf("%s: 200 without metrics: %.200s", url, b)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name     string
		extra    string
		mainWant int
	}{
		{"metrics on the main listener", "", 200},
		{"metrics_listen set", "metrics_listen: " + metricsAddr + "\n", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			cfgPath := filepath.Join(sub, "authgate.yaml")
			if err := os.WriteFile(cfgPath, []byte(tc.extra+m2mCfg), 0o600); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, "--data-dir", filepath.Join(sub, "data"), "--config", cfgPath)
			waitListening(t, taAddr)
			waitListening(t, peAddr)
			for _, addr := range []string{taAddr, peAddr} {
				if got := get(t, "https://"+addr+"/metrics"); got != 404 {
					t.Errorf("partner listener %s: GET /metrics = %d", addr, got)
				}
			}
			if got := get(t, s.url+"/metrics"); got != tc.mainWant {
				t.Errorf("main listener: GET /metrics = %d, want %d", got, tc.mainWant)
			}
			if tc.extra == "" {
				// The partner listeners' served certificates are reported
				// (their expiry), on the listener that serves metrics.
				resp, err := insecure.Get(s.url + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, src := range []string{"listener:m2m-TA", "listener:m2m-PE"} {
					if !strings.Contains(string(b), `source="`+src+`"`) {
						t.Errorf("no certificate expiry series of %s in\n%s", src, grepLines(string(b), "certificate_expiry"))
					}
				}
			}
			if tc.extra != "" {
				waitListening(t, metricsAddr)
				if got := get(t, "http://"+metricsAddr+"/metrics"); got != 200 {
					t.Errorf("metrics listener: GET /metrics = %d", got)
				}
				if got := get(t, "http://"+metricsAddr+"/readyz"); got != 404 {
					t.Errorf("metrics listener serves other routes: GET /readyz = %d", got)
				}
			}
			_ = s.cmd.Process.Kill()
			<-s.done
		})
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
