package cli

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/wssec/wssectest"
)

// replaceFiles puts the pair from into the paths of to, each by rename
// (what a certificate manager does), so no reader sees half a file.
func replaceFiles(t *testing.T, from, to [2]string) {
	t.Helper()
	for i := range from {
		b, err := os.ReadFile(from[i])
		if err != nil {
			t.Fatal(err)
		}
		tmp := to[i] + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, to[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// countLines counts the server's log lines matching re.
func (s *server) countLines(re *regexp.Regexp) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.stderr {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// waitLines waits for the n-th log line matching re and returns it.
func (s *server) waitLines(t *testing.T, re *regexp.Regexp, n int) string {
	t.Helper()
	for range 400 {
		s.mu.Lock()
		seen := 0
		for _, l := range s.stderr {
			if re.MatchString(l) {
				if seen++; seen == n {
					s.mu.Unlock()
					return l
				}
			}
		}
		s.mu.Unlock()
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no %d-th log line matching %s", n, re)
	return ""
}

// TestReloadUnderLoad: SIGHUP swaps the certificates of the main listener
// and of the M2M TA listener while clients keep calling both; no request
// fails, a kept-alive connection opened before the swap goes on serving
// (nothing is dropped), every handshake begun after the reload's log line
// sees the new certificate. A broken pair is refused and the previous one
// stays; a changed log_level is applied and a changed max_in_flight is
// named as needing a restart.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca := wssectest.NewCA(t, "Reload Test CA", 0, now)
	leaf := func(name string, slot int) [2]string {
		return writeLeaf(t, dir, ca, now, name, loopbackServer(slot))
	}
	mainOld, mainNew, taOld, taNew := leaf("main-old", 40), leaf("main-new", 41), leaf("ta-old", 42), leaf("ta-new", 43)
	taSign := writeLeaf(t, dir, ca, now, "ta-sign", wssectest.Leaf{Slot: 44, OU: "M2M_TA"})
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", ca.Cert, nil)
	mainFiles := [2]string{filepath.Join(dir, "main.pem"), filepath.Join(dir, "main.key")}
	taFiles := [2]string{filepath.Join(dir, "ta.pem"), filepath.Join(dir, "ta.key")}
	replaceFiles(t, mainOld, mainFiles)
	replaceFiles(t, taOld, taFiles)
	taAddr := freePort(t)
	config := func(level string, inFlight int) string {
		return fmt.Sprintf(`log_level: %s
max_in_flight: %d
tls:
  cert: %s
  key: %s
m2m:
  enabled: true
  ta:
    listen: %s
    tls_cert: %s
    tls_key: %s
    signing_cert: %s
    signing_key: %s
    trusted_cas: [%s]
`, level, inFlight, mainFiles[0], mainFiles[1], taAddr, taFiles[0], taFiles[1], taSign[0], taSign[1], caPath)
	}
	cfgPath := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(config("info", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--data-dir", filepath.Join(dir, "data"), "--config", cfgPath)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("main listener not TLS: %s", s.url)
	}
	serial := func(pair [2]string) string {
		c, err := tls.LoadX509KeyPair(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	roots := &tls.Config{RootCAs: ca.Pool()}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: roots, DisableKeepAlives: true}, Timeout: 30 * time.Second}
	kept := &http.Client{Transport: &http.Transport{TLSClientConfig: roots, MaxConnsPerHost: 1}, Timeout: 30 * time.Second}

	// get fetches url and returns the serving certificate's serial.
	get := func(c *http.Client, url string, reused *bool) (string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if reused != nil {
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { *reused = i.Reused }}))
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
	}
	if sn, err := get(kept, s.url+"/healthz", nil); err != nil || sn != serial(mainOld) {
		t.Fatalf("kept-alive connection before the swap: %s %v", sn, err)
	}

	// The load: fresh handshakes on both listeners, and the kept-alive connection.
	type sample struct {
		target  string
		serial  string
		started int64 // reloads logged when the request began
		reused  bool
	}
	reloadRE := regexp.MustCompile(`msg=reloaded `)
	var (
		mu      sync.Mutex
		samples []sample
		failed  atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	loop := func(target, url string, c *http.Client, trace bool) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			started := int64(s.countLines(reloadRE))
			var reused bool
			var rp *bool
			if trace {
				rp = &reused
			}
			sn, err := get(c, url, rp)
			if err != nil {
				failed.Add(1)
				t.Errorf("%s during reloads: %v", target, err)
				return
			}
			mu.Lock()
			samples = append(samples, sample{target, sn, started, reused})
			mu.Unlock()
		}
	}
	wg.Add(4)
	go loop("main", s.url+"/healthz", fresh, false)
	go loop("main", s.url+"/healthz", fresh, false)
	go loop("ta", "https://"+taAddr+"/M2MMon?wsdl", fresh, false)
	go loop("kept", s.url+"/healthz", kept, true)
	count := func(target string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, x := range samples {
			if x.target == target {
				n++
			}
		}
		return n
	}
	waitSamples := func(n int) {
		for count("main") < n || count("ta") < n || count("kept") < n {
			if failed.Load() > 0 {
				t.FailNow()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitSamples(10)

	// 1. New certificates on both listeners.
	replaceFiles(t, mainNew, mainFiles)
	replaceFiles(t, taNew, taFiles)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	line := s.waitLines(t, reloadRE, 1)
	for _, want := range []string{`reloaded="tls.cert/tls.key (main listener), m2m.ta tls_cert/tls_key"`, "failed=none", "applied=none", "changed_need_restart=none", "restart_needed_for="} {
		if !strings.Contains(line, want) {
			t.Errorf("reload line lacks %s:\n%s", want, line)
		}
	}
	base := count("main")
	waitSamples(base + 10)

	// 2. A broken key: refused, the new pair stays.
	if err := os.WriteFile(mainFiles[1], []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	line = s.waitLines(t, reloadRE, 2)
	if !strings.Contains(line, `failed="tls.cert/tls.key (main listener)"`) || !strings.Contains(line, `reloaded="m2m.ta tls_cert/tls_key"`) {
		t.Errorf("reload with a broken key:\n%s", line)
	}
	s.logLine(t, regexp.MustCompile(`level=ERROR msg="reload failed, the previous material stays in force" what="tls.cert/tls.key \(main listener\)"`))
	base = count("main")
	waitSamples(base + 10)

	// 3. Configuration: log_level applied, max_in_flight needs a restart.
	if err := os.WriteFile(cfgPath, []byte(config("debug", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	line = s.waitLines(t, reloadRE, 3)
	if !strings.Contains(line, "applied=log_level") || !strings.Contains(line, "changed_need_restart=max_in_flight") || !strings.Contains(line, "level=WARN") {
		t.Errorf("reload with a changed configuration:\n%s", line)
	}
	base = count("main")
	waitSamples(base + 10)
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the reloads", failed.Load())
	}

	oldMain, newMain, oldTA, newTA := serial(mainOld), serial(mainNew), serial(taOld), serial(taNew)
	var sawNew = map[string]bool{}
	keptAfter := 0
	for _, x := range samples {
		switch x.target {
		case "main", "ta":
			want, old := newMain, oldMain
			if x.target == "ta" {
				want, old = newTA, oldTA
			}
			if x.started >= 1 && x.serial != want {
				t.Errorf("%s: a handshake begun after the reload was served serial %s, want the new %s", x.target, x.serial, want)
			}
			if x.serial != want && x.serial != old {
				t.Errorf("%s: unknown serial %s", x.target, x.serial)
			}
			if x.serial == want {
				sawNew[x.target] = true
			}
		case "kept":
			if x.started >= 1 {
				keptAfter++
				if !x.reused || x.serial != oldMain {
					t.Errorf("kept-alive connection after the reload: reused %v, serial %s (the connection opened before it, serial %s)", x.reused, x.serial, oldMain)
				}
			}
		}
	}
	if !sawNew["main"] || !sawNew["ta"] || keptAfter == 0 {
		t.Fatalf("new certificate seen: %v; kept-alive requests after the reload: %d", sawNew, keptAfter)
	}
	t.Logf("%d requests, none failed; %d on the kept-alive connection after the first reload", len(samples), keptAfter)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
