package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/testutil/fronttest"
)

// The test binary doubles as the authgate binary: with
// AUTHGATE_TEST_MAIN=1 it runs the CLI, so these tests drive the real
// `authgate serve` and CLI commands without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("AUTHGATE_TEST_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// node is a running `authgate serve`.
type node struct {
	URL     string // http://127.0.0.1:port
	Addr    string // 127.0.0.1:port
	DataDir string
	Config  string // the YAML file it runs with
	// Key and Secret are the bootstrap admin's access key.
	Key, Secret string

	mu  sync.Mutex
	log []string
}

var (
	listenRE = regexp.MustCompile(`msg=listening server=main addr=(\S+) scheme=http`)
	keyRE    = regexp.MustCompile(`(?m)^\s*key:\s+(\S+)`)
	secretRE = regexp.MustCompile(`(?m)^\s*secret:\s+(\S+)`)
)

// startNode runs authgate serve on loopback with the configuration yaml
// (its data directory a fresh temp dir) until the test ends.
func startNode(t *testing.T, yaml string) *node {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{DataDir: filepath.Join(dir, "data"), Config: cfg}
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--data-dir", n.DataDir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	var stdout bytes.Buffer
	var outMu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { outMu.Lock(); defer outMu.Unlock(); return stdout.Write(p) })
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.mu.Lock()
			n.log = append(n.log, sc.Text())
			n.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("authgate log:\n%s", n.logText())
		}
	})
	select {
	case n.Addr = <-addr:
	case err := <-done:
		t.Fatalf("authgate exited before listening (%v):\n%s", err, n.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("authgate did not start:\n%s", n.logText())
	}
	n.URL = "http://" + n.Addr
	for range 200 {
		outMu.Lock()
		out := stdout.String()
		outMu.Unlock()
		k, s := keyRE.FindStringSubmatch(out), secretRE.FindStringSubmatch(out)
		if k != nil && s != nil {
			n.Key, n.Secret = k[1], s[1]
			return n
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no bootstrap key printed:\n%s", stdout.String())
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (n *node) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.log, "\n")
}

// run runs an authgate CLI command on the node's configuration and
// database and returns its standard output.
func (n *node) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "--config", n.Config, "--data-dir", n.DataDir)...)
	cmd.Env = append(os.Environ(), "AUTHGATE_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("authgate %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// runJSON runs a CLI command that prints one JSON object into v.
func (n *node) runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := n.run(t, args...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("authgate %s printed %q: %v", strings.Join(args, " "), out, err)
	}
}

// token is a password grant for key/secret at the node.
func (n *node) token(t *testing.T, key, secret string) string {
	t.Helper()
	resp, err := http.PostForm(n.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("password grant: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// send does one request and returns the status, headers and body.
func send(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// verifiedUpstream is a recording upstream that, like an upstream that
// cannot trust its network, accepts a request only with an
// X-Authgate-Identity JWT that authgate's JWKS verifies for route
// (audience) and whose claims match the X-Authgate-* headers beside it.
func verifiedUpstream(t *testing.T, n *node) *fronttest.Upstream {
	t.Helper()
	up := fronttest.NewUpstream(t)
	var (
		mu   sync.Mutex
		keys *jose.JSONWebKeySet
	)
	fetch := func() (*jose.JSONWebKeySet, error) {
		mu.Lock()
		defer mu.Unlock()
		if keys != nil {
			return keys, nil
		}
		resp, err := http.Get(n.URL + "/gateway/jwks.json")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			return nil, err
		}
		keys = &set
		return keys, nil
	}
	up.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := verifyIdentity(r, fetch)
		if err != nil {
			http.Error(w, "identity: "+err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"upstream": "ok", "sub": claims.Subject, "org": claims.Org, "scheme": claims.Scheme})
	})
	return up
}

// identityClaims are X-Authgate-Identity's claims (docs/gateway.md).
type identityClaims struct {
	jwt.Claims
	Org    string `json:"org"`
	Scheme string `json:"scheme"`
	Kind   string `json:"kind"`
	Scope  string `json:"scope"`
}

// routeHeader names the route an upstream request was meant for; the
// tests' upstream is shared by routes, and the audience is checked
// against the route the request's path belongs to.
func verifyIdentity(r *http.Request, jwks func() (*jose.JSONWebKeySet, error)) (identityClaims, error) {
	var c identityClaims
	raw := r.Header.Values("X-Authgate-Identity")
	if len(raw) != 1 {
		return c, fmt.Errorf("%d X-Authgate-Identity headers", len(raw))
	}
	tok, err := jwt.ParseSigned(raw[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return c, err
	}
	set, err := jwks()
	if err != nil {
		return c, err
	}
	if len(tok.Headers) != 1 {
		return c, fmt.Errorf("%d signatures", len(tok.Headers))
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return c, fmt.Errorf("kid %q not in the JWKS", tok.Headers[0].KeyID)
	}
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		return c, err
	}
	aud := routeOf(r.URL.Path)
	if err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{aud}, Time: time.Now()}, 5*time.Second); err != nil {
		return c, fmt.Errorf("claims for route %s: %w", aud, err)
	}
	for h, v := range map[string]string{"X-Authgate-Subject": c.Subject, "X-Authgate-Organisation": c.Org, "X-Authgate-Scheme": c.Scheme, "X-Authgate-Scope": c.Scope} {
		if got := r.Header.Values(h); len(got) > 1 || r.Header.Get(h) != v {
			return c, fmt.Errorf("%s %q, the identity says %q", h, got, v)
		}
	}
	return c, nil
}

// routeOf is the gateway route name of an upstream path in these tests:
// its first segment.
func routeOf(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p
}
