package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// The test binary doubles as the authgate binary: with AUTHGATE_TEST_MAIN=1
// it runs the CLI, so end-to-end tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("AUTHGATE_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server is an authgate child process.
type server struct {
	cmd    *exec.Cmd
	stdout *agtest.SyncBuffer // read while the child writes it
	url    string
	done   chan error

	mu     sync.Mutex
	stderr []string // log lines so far
}

// logLine returns the first log line matching re, waiting briefly for it.
func (s *server) logLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	for range 100 {
		s.mu.Lock()
		for _, l := range s.stderr {
			if m := re.FindStringSubmatch(l); m != nil {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log line matches %s", re)
	return nil
}

var listenRE = regexp.MustCompile(`msg=listening server=main addr=(\S+) scheme=(\S+)`)

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	s := &server{cmd: cmd, stdout: &agtest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = s.stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr = append(s.stderr, sc.Text())
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[2] + "://" + m[1]
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case s.url = <-addr:
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return s
}

func TestServeZeroConfig(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--data-dir", dir)
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("graceful stop failed: %v", err)
	}
	out := s.stdout.String()
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if !strings.Contains(out, "key:") || secret == nil {
		t.Fatalf("bootstrap credentials not printed:\n%s", out)
	}
	st, err := os.Stat(dir + "/master.key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", st, err)
	}
	db, err := os.ReadFile(dir + "/authgate.db")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(secret[1])) {
		t.Fatal("bootstrap secret stored in clear")
	}

	// Second start: same data, nothing printed.
	s2 := startServer(t, "--data-dir", dir)
	_ = s2.cmd.Process.Signal(syscall.SIGINT)
	if err := <-s2.done; err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if strings.Contains(s2.stdout.String(), "secret") {
		t.Fatalf("bootstrap secret printed twice:\n%s", s2.stdout.String())
	}
}

// TestServeSelfSignedPathLogged: with --self-signed the log names the
// certificate's path at start, and `curl --cacert PATH` (as the quick
// start says) trusts the server at localhost.
func TestServeSelfSignedPathLogged(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--data-dir", dir, "--self-signed")
	m := s.logLine(t, regexp.MustCompile(`msg="self-signed development certificate" cert=(\S+)`))
	if want := filepath.Join(dir, "dev-tls", "cert.pem"); m[1] != want {
		t.Fatalf("logged path %q, want %q", m[1], want)
	}
	u := strings.Replace(s.url, "127.0.0.1", "localhost", 1) + "/healthz"
	out, err := exec.Command("curl", "-sS", "--fail", "--cacert", m[1], u).CombinedOutput()
	if err != nil {
		t.Fatalf("curl --cacert %s %s: %v\n%s", m[1], u, err, out)
	}
	if _, err := exec.Command("curl", "-sS", "--fail", u).CombinedOutput(); err == nil {
		t.Fatal("curl without --cacert trusted the development certificate")
	}
}

func TestServeDrainsInFlightRequests(t *testing.T) {
	s := startServer(t, "--data-dir", t.TempDir(), "--self-signed")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("--self-signed did not serve TLS: %s", s.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	// A slow upload is in flight when SIGTERM arrives; it must still be answered.
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		resp, err := client.Post(s.url+"/healthz", "text/plain", pr)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte("partial"))
	time.Sleep(200 * time.Millisecond)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte(" rest"))
	pw.Close()
	if code := <-result; code != http.StatusMethodNotAllowed {
		t.Fatalf("in-flight request got %d, want the route's own answer (405)", code)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestServeRejectsInvalidConfiguration(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--listen", "nope", "--log-level", "loud", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"listen", "log_level"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message does not mention %s:\n%s", want, out)
		}
	}
}

// A misspelt AUTHGATE_* variable stops the start, as a misspelt YAML key
// does, and names every unknown variable; the ones read on purpose
// (AUTHGATE_TEST_MAIN here, AUTHGATE_TEST_POSTGRES in CI) do not.
func TestServeRejectsUnknownEnvironmentVariable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1", "AUTHGATE_MAX_INFLIGHT=10", "AUTHGATE_TPV_ENABLE=true")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve started despite unknown variables:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "AUTHGATE_MAX_INFLIGHT, AUTHGATE_TPV_ENABLE") {
		t.Fatalf("want a refusal naming both variables, got %v:\n%s", err, out)
	}
}

func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dataDir := t.TempDir()
	s := startServer(t, "--data-dir", dataDir, "--db", dsn)
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz on PostgreSQL: %d", resp.StatusCode)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.stdout.String(), "secret:") {
		t.Fatal("no bootstrap credentials on a fresh PostgreSQL database")
	}
	// A node with another master key is refused: it could verify nothing.
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--db", dsn)
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "master key differs") {
		t.Fatalf("node with another master key: %v\n%s", err, out)
	}
	// A second node with the same key does not bootstrap again.
	s2 := startServer(t, "--data-dir", t.TempDir(), "--db", dsn, "--master-key-file", dataDir+"/master.key")
	_ = s2.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s2.done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s2.stdout.String(), "secret:") {
		t.Fatal("second node printed bootstrap credentials")
	}
}
