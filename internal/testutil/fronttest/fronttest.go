// Package fronttest runs the real front ends that sit before authgate in
// forward-auth mode (Debian's nginx with auth_request, Caddy with
// forward_auth) and the recording upstream behind them, for tests. Each
// runs as the current user on a loopback port with its pid, log and temp
// files in the test's temp dir, and is stopped when the test ends.
package fronttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// Require returns the path of the program name (nginx, caddy). Without it
// the test is skipped, except in full CI runs (AUTHGATE_REQUIRE_POSTGRES=1),
// where it fails: scripts/deps.sh installs it there.
func Require(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		// Debian installs nginx under /usr/sbin, which a user's PATH may lack.
		if p := filepath.Join("/usr/sbin", name); fileExists(p) {
			return p
		}
		if pgtest.Required() {
			t.Fatalf("%s is required (scripts/deps.sh installs it): %v", name, err)
		}
		t.Skipf("%s not installed (scripts/deps.sh install_test_deps)", name)
	}
	return path
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Recorded is one request as the upstream received it.
type Recorded struct {
	Method string
	URI    string // path and raw query, as sent on the request line
	Host   string
	Header http.Header
	Body   []byte
}

// Upstream is an HTTP server that records every request it receives and
// answers 200 with a small JSON body (or what Handler answers).
type Upstream struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
	// Handler, when set before requests arrive, answers after the request
	// was recorded (the body was read and is passed again as r.Body).
	Handler http.Handler

	mu   sync.Mutex
	reqs []Recorded
}

// maxRecordedBody bounds what the upstream keeps of one body.
const maxRecordedBody = 1 << 20

// NewUpstream starts a recording upstream on loopback until the test ends.
func NewUpstream(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	u.Addr = srv.Listener.Addr().String()
	return u
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.reqs = append(u.reqs, Recorded{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: body})
	h := u.Handler
	u.mu.Unlock()
	if h != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"upstream":"ok","method":%q,"uri":%q}`, r.Method, r.RequestURI)
}

// Requests returns what the upstream received so far, oldest first.
func (u *Upstream) Requests() []Recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Recorded(nil), u.reqs...)
}

// Count is the number of requests received so far.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// Last returns the latest request; it fails the test when there is none.
func (u *Upstream) Last(t testing.TB) Recorded {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// Front is a running front end.
type Front struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
	Dir  string // its config, pid, log and temp files
	log  string // the file its errors go to
}

// Log returns what the front end wrote to its error log so far.
func (f *Front) Log() string {
	b, _ := os.ReadFile(f.log)
	return string(b)
}

// Site is a front end's site configuration as an operator writes it
// (a documented snippet), and how to place it on this machine: Listen is
// the snippet's listen directive or site address (nginx "listen 80;",
// Caddy "http://:80"), replaced by one for the loopback port the front end
// gets; Replace are further old, new pairs (the documented authgate and
// upstream addresses), applied before it.
type Site struct {
	Text    string
	Listen  string
	Replace []string
}

func (s Site) render(listen string) (string, error) {
	if len(s.Replace)%2 != 0 {
		return "", errors.New("fronttest: Replace needs old, new pairs")
	}
	text := s.Text
	for i := 0; i < len(s.Replace); i += 2 {
		if !strings.Contains(text, s.Replace[i]) {
			return "", fmt.Errorf("fronttest: the site does not contain %q", s.Replace[i])
		}
		text = strings.ReplaceAll(text, s.Replace[i], s.Replace[i+1])
	}
	if s.Listen == "" || strings.Count(text, s.Listen) != 1 {
		return "", fmt.Errorf("fronttest: the site must contain its listen address %q once", s.Listen)
	}
	return strings.Replace(text, s.Listen, listen, 1), nil
}

// NginxMain is the main configuration wrapped around a site's server
// blocks: a single foreground process (no user switch, so it runs as any
// user) with every path under the prefix directory.
const NginxMain = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
%[2]s
}
`

// Nginx starts nginx with site (server blocks of an http context) until
// the test ends. Its listen directive becomes "listen 127.0.0.1:port;".
func Nginx(t testing.TB, site Site) *Front {
	t.Helper()
	bin := Require(t, "nginx")
	dir := t.TempDir()
	addr := freeAddr(t)
	text, err := site.render("listen " + addr + ";")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(NginxMain, dir, text)), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &Front{URL: "http://" + addr, Addr: addr, Dir: dir, log: filepath.Join(dir, "error.log")}
	// -e: errors before the configuration is read go to the temp dir too,
	// not to the packaged /var/log/nginx.
	start(t, f, exec.Command(bin, "-p", dir, "-e", f.log, "-c", conf))
	return f
}

// Caddy starts Caddy with site (a Caddyfile's site blocks; global options
// are set here: no admin endpoint, no automatic HTTPS, loopback binding,
// storage in the temp dir) until the test ends. Its site address becomes
// "http://:port".
func Caddy(t testing.TB, site Site) *Front {
	t.Helper()
	bin := Require(t, "caddy")
	dir := t.TempDir()
	addr := freeAddr(t)
	text, err := site.render("http://:" + strings.TrimPrefix(addr, "127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	global := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n\tstorage file_system " + filepath.Join(dir, "data") + "\n}\n\n"
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(global+text), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &Front{URL: "http://" + addr, Addr: addr, Dir: dir, log: filepath.Join(dir, "caddy.log")}
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", conf)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	start(t, f, cmd)
	return f
}

// start runs cmd (its output to the front end's log), waits until addr
// accepts connections, and stops it (SIGTERM, then SIGKILL) at cleanup.
func start(t testing.TB, f *Front, cmd *exec.Cmd) {
	t.Helper()
	out, err := os.OpenFile(f.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(cmd.Path), f.Log())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", f.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited before listening (%v):\n%s", filepath.Base(cmd.Path), err, f.Log())
		case <-ctx.Done():
			t.Fatalf("%s did not listen on %s:\n%s", filepath.Base(cmd.Path), f.Addr, f.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// Snippet returns the fenced code block that follows the line
// "<!-- fronttest:NAME -->" in the Markdown file doc: the configuration
// the documentation shows is the one the tests run, so the two cannot
// drift apart.
func Snippet(t testing.TB, doc, name string) string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- fronttest:" + name + " -->"
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != marker {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("%s: %s is not followed by a fenced code block", doc, marker)
		}
		for j := i + 2; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				return strings.Join(lines[i+2:j], "\n") + "\n"
			}
		}
		t.Fatalf("%s: the code block after %s is not closed", doc, marker)
	}
	t.Fatalf("%s has no %s", doc, marker)
	return ""
}
