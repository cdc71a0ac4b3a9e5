package cli

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/wssec/wssectest"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeLeaf issues l from ca at now and writes its certificate and key
// under dir as name (paths returned in that order).
func writeLeaf(t *testing.T, dir string, ca *wssectest.CA, now time.Time, name string, l wssectest.Leaf) [2]string {
	l.Now = now
	c, k := ca.Issue(t, l)
	cp, kp := wssectest.WriteFiles(t, dir, name, c, k)
	return [2]string{cp, kp}
}

// loopbackServer is an SSL server certificate for 127.0.0.1 in slot.
func loopbackServer(slot int) wssectest.Leaf {
	return wssectest.Leaf{Slot: slot, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
}

// TestM2MCommands runs the family end to end through the binary: API key
// and SIM set-up on the database, `authgate serve` with a TA listener,
// `authgate m2m partner-serve` as the partner's M2MAdmCl/M2MMonCl, and
// `authgate m2m call` for both chapter 7 scenarios. The partner may send
// 10-minute Timestamps (max_timestamp_ttl); authgate's own answers and
// notifications keep 300 s, which `m2m call` and `partner-serve` (300 s
// verifiers) accept.
func TestM2MCommands(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca := wssectest.NewCA(t, "Test CA", 0, now)
	files := map[string][2]string{}
	issue := func(name string, l wssectest.Leaf) { files[name] = writeLeaf(t, dir, ca, now, name, l) }
	issue("ta-tls", loopbackServer(30))
	issue("ta-sign", wssectest.Leaf{Slot: 31, OU: "M2M_TA"})
	issue("partner-sign", wssectest.Leaf{Slot: 32, OU: "M2M_TA", CN: "ta.sample.org"})
	issue("partner-tls", loopbackServer(33))
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", ca.Cert, nil)
	taAddr, partnerAddr := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`m2m:
  enabled: true
  poll_interval: 50ms
  ta:
    listen: %s
    tls_cert: %s
    tls_key: %s
    signing_cert: %s
    signing_key: %s
    callback_cas: [%s]
    partners:
      - name: acme
        signing_certs: [%s]
        max_timestamp_ttl: 10m
        sender_id: ACME-TA-0001
        partner_id: "4711"
        adm_cl_url: https://%s/M2MAdmCl
        mon_cl_url: https://%s/M2MMonCl
`, taAddr, files["ta-tls"][0], files["ta-tls"][1], files["ta-sign"][0], files["ta-sign"][1], caPath, files["partner-sign"][0], partnerAddr, partnerAddr)
	cfgPath := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var key map[string]string
	if err := json.Unmarshal(runCLI(t, "m2m", "apikey", "--data-dir", data, "--config", cfgPath, "--env", "TA", "--partner", "acme"), &key); err != nil {
		t.Fatal(err)
	}
	const iccid = "8949020000000000025"
	runCLI(t, "m2m", "sim", "add", "--data-dir", data, "--config", cfgPath, "--env", "TA", "--partner", "acme", "--iccid", iccid)
	runCLI(t, "m2m", "sim", "usage", "--data-dir", data, "--config", cfgPath, "--env", "TA", "--iccid", iccid, "--data", "4096", "--sms", "2")

	// The partner's server, a child process printing what it receives.
	partner := exec.Command(os.Args[0], "m2m", "partner-serve", "--listen", partnerAddr,
		"--tls-cert", files["partner-tls"][0], "--tls-key", files["partner-tls"][1],
		"--cert", files["partner-sign"][0], "--key", files["partner-sign"][1], "--platform-cert", files["ta-sign"][0])
	partner.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	pout, err := partner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := partner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = partner.Process.Kill(); _ = partner.Wait() })
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(pout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	// Small per-address limits (checked on both listeners at the end); a long
	// header deadline, so that only the cap closes a silent connection.
	const connCap = 6
	t.Setenv("AUTHGATE_MAX_CONNS_PER_ADDR", fmt.Sprint(connCap))
	t.Setenv("AUTHGATE_READ_HEADER_TIMEOUT", "1m")
	srv := startServer(t, "--data-dir", data, "--config", cfgPath)
	waitListening(t, taAddr)
	waitListening(t, partnerAddr)

	base := []string{"m2m", "call", "--url", "https://" + taAddr, "--cert", files["partner-sign"][0], "--key", files["partner-sign"][1],
		"--platform-cert", files["ta-sign"][0], "--ca-file", caPath, "--iccid", iccid}
	t.Setenv("M2M_API_KEY", key["m2m_api_key"])
	call := func(args ...string) map[string]any {
		var out map[string]any
		if err := json.Unmarshal(runCLI(t, append(base, args...)...), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if u := call("SIMUsageGet"); u["data_volume"] != float64(4096) || u["sms_count"] != float64(2) || u["state"] != "SHIPPED" {
		t.Fatalf("SIMUsageGet %v", u)
	}
	// The partner's identifiers from its sheet pass; another sender id is refused.
	if u := call("SIMUsageGet", "--sender-id", "ACME-TA-0001", "--partner-id", "4711"); u["state"] != "SHIPPED" {
		t.Fatalf("SIMUsageGet with identifiers %v", u)
	}
	if msg := runCLIErr(t, append(base, "SIMUsageGet", "--sender-id", "GLOBEX-TA-0001")...); !strings.Contains(msg, "IdentifierMismatch") && !strings.Contains(msg, "SOA-BP sender ID") {
		t.Fatalf("a wrong sender id: %s", msg)
	}
	checkPartnerSheet(t, cfgPath, data, taAddr, files, base)
	mr := call("SIMActivation")
	if mr["status"] != "ACCEPTED" || mr["request_id"] == "" {
		t.Fatalf("MessageResponse %v", mr)
	}
	got := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case l := <-lines:
			if strings.Contains(l, `"received":"M2MAdmResponse"`) && strings.Contains(l, mr["request_id"].(string)) && strings.Contains(l, `"state":"ACTIVE"`) {
				got["adm"] = true
			}
			if strings.Contains(l, `"received":"SIMNetworkStateChange"`) && strings.Contains(l, "REGISTERED") {
				got["mon"] = true
			}
		case <-deadline:
			t.Fatalf("partner received %v", got)
		}
	}
	if s := call("SIMStateGet"); s["state"] != "ACTIVE" || s["network_state"] != "REGISTERED" {
		t.Fatalf("SIMStateGet %v", s)
	}
	for _, addr := range []string{taAddr, strings.TrimPrefix(srv.url, "http://")} {
		checkConnCap(t, addr, connCap)
	}
}

// checkConnCap holds max silent connections to addr from 127.0.0.1 and
// shows that one more is closed by the server while the others stay open
// (the header deadline is a minute).
func checkConnCap(t *testing.T, addr string, max int) {
	t.Helper()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range max + 1 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	extra := held[max]
	_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := extra.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("listener %s: connection %d from one address was kept open (%v)", addr, max+1, err)
	}
	// ... by the cap, not by a deadline: the first connection is still open.
	_ = held[0].SetReadDeadline(time.Now().Add(time.Second))
	if _, err := held[0].Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("listener %s: the connections within the cap were closed too (%v)", addr, err)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is not listening", addr)
}

// checkPartnerSheet runs `authgate m2m partner sheet`: the platform's
// certificates whole, with the fingerprints openssl computes, the
// endpoints, sender id and partner identifier, and no API key; with
// --new-api-key a key that `m2m call` then authenticates with, printed by
// that run only.
func checkPartnerSheet(t *testing.T, cfgPath, data, taAddr string, files map[string][2]string, call []string) {
	t.Helper()
	sheet := string(runCLI(t, "m2m", "partner", "sheet", "acme", "--env", "TA", "--config", cfgPath, "--data-dir", data))
	for _, name := range []string{"ta-tls", "ta-sign", "partner-sign"} {
		out, err := exec.Command("openssl", "x509", "-in", files[name][0], "-noout", "-fingerprint", "-sha256").Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		if !strings.Contains(sheet, "SHA-256:  "+fp) {
			t.Fatalf("sheet lacks %s's fingerprint %s:\n%s", name, fp, sheet)
		}
	}
	for _, name := range []string{"ta-tls", "ta-sign"} {
		pemBytes, err := os.ReadFile(files[name][0])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(pemBytes)), "\n") {
			if !strings.Contains(sheet, "   "+l+"\n") {
				t.Fatalf("sheet lacks line %q of %s's PEM", l, name)
			}
		}
	}
	for _, want := range []string{
		"A  SSL server certificate (TA)", "B  Signature certificate (TA)",
		"E  M2MAdm access point (TA):  https://" + taAddr + "/M2MAdm", "F  M2MMon access point (TA):  https://" + taAddr + "/M2MMon",
		"J  M2MApiKey (TA):  not on this sheet", "K  SOA-BP sender ID (API sender identifier):  ACME-TA-0001",
		"M2M partner identifier:                   4711",
	} {
		if !strings.Contains(sheet, want) {
			t.Fatalf("sheet lacks %q:\n%s", want, sheet)
		}
	}
	issued := string(runCLI(t, "m2m", "partner", "sheet", "acme", "--env", "TA", "--new-api-key", "--config", cfgPath, "--data-dir", data))
	_, rest, ok := strings.Cut(issued, "J  M2MApiKey (TA):  ")
	key, _, _ := strings.Cut(rest, "\n")
	if !ok || !strings.Contains(key, ".") {
		t.Fatalf("no key on the sheet:\n%s", issued)
	}
	t.Setenv("M2M_API_KEY", key)
	var u map[string]any
	if err := json.Unmarshal(runCLI(t, append(call, "SIMUsageGet")...), &u); err != nil || u["state"] != "SHIPPED" {
		t.Fatalf("SIMUsageGet with the sheet's key: %v %v", u, err)
	}
	if again := string(runCLI(t, "m2m", "partner", "sheet", "acme", "--env", "TA", "--config", cfgPath, "--data-dir", data)); strings.Contains(again, key) {
		t.Fatal("the API key is printed again")
	}
}

// TestAttack_M2MSetupUnknownPartner: `m2m apikey` and `m2m sim add` for a
// partner the environment does not list refuse with exit 3 (not found) and
// provision nothing: no organisation, no principal, no key.
func TestAttack_M2MSetupUnknownPartner(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfgPath, []byte("m2m:\n  ta:\n    partners:\n      - name: acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", filepath.Join(dir, "data"), "--config", cfgPath}
	for _, args := range [][]string{
		{"m2m", "apikey", "--partner", "NOSUCH"},
		{"m2m", "apikey", "--partner", "acme", "--env", "PE"}, // acme is a TA partner only
		{"m2m", "apikey", "--partner", "ACME"},                // names are exact
		{"m2m", "apikey", "--partner", strings.Repeat("x", 100000)},
		{"m2m", "sim", "add", "--partner", "NOSUCH", "--iccid", "8949020000000000025"},
	} {
		code, stdout, stderr := runCLIExit(t, append(args, base...)...)
		if code != exitNotFound || stdout != "" || !strings.Contains(stderr, "not_found") {
			t.Fatalf("authgate %.80v: exit %d, stdout %q, stderr %.200q", args, code, stdout, stderr)
		}
	}
	var orgs struct{ Total int }
	if err := json.Unmarshal(runCLI(t, append([]string{"admin", "org", "list"}, base...)...), &orgs); err != nil || orgs.Total != 0 {
		t.Fatalf("organisations after refused set-up: %+v (%v)", orgs, err)
	}
	// The configured partner still works.
	runCLI(t, append([]string{"m2m", "apikey", "--partner", "acme"}, base...)...)
}
