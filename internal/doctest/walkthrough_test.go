package doctest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/cli"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// The test binary doubles as the authgate binary (as in internal/cli): with
// AUTHGATE_TEST_MAIN=1 it runs the CLI, so the walkthroughs run the real
// commands without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("AUTHGATE_TEST_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// walkthroughDocs must each open with a "## Walkthrough" section.
var walkthroughDocs = []string{"oauth2.md", "tpv-signature.md", "apstrata.md", "taap.md", "m2m.md", "identities.md", "subscriptions.md"}

// extraListener is a listener a walkthrough's configuration opens besides
// the main one: the test moves it to a free port through env (a
// configuration key, so it overrides the doc's YAML) and tells the
// commands where it is in urlVar, as the doc tells the reader.
type extraListener struct{ env, urlVar string }

var extraListeners = map[string][]extraListener{
	"m2m.md": {{env: "AUTHGATE_M2M_TA_LISTEN", urlVar: "M2M_URL"}},
}

// walkthrough is the ```sh blocks of a document's "## Walkthrough" section.
type walkthrough struct {
	setup  []string // blocks before the server starts (files, configuration), run in one shell
	serve  string   // the `authgate serve` command line, a block of its own
	blocks []string // the rest, run in one shell in order
}

var fenceRE = regexp.MustCompile("^```(\\S*)\\s*$")

// parseWalkthrough extracts the walkthrough of a Markdown document: the
// ```sh fenced blocks between "## Walkthrough" and the next "## " heading.
func parseWalkthrough(md string) (walkthrough, error) {
	var w walkthrough
	var blocks []string
	in, inBlock, isSh := false, false, false
	var cur strings.Builder
	for _, line := range strings.Split(md, "\n") {
		if inBlock {
			if strings.TrimSpace(line) == "```" {
				inBlock = false
				if isSh {
					blocks = append(blocks, cur.String())
				}
				cur.Reset()
				continue
			}
			cur.WriteString(line + "\n")
			continue
		}
		switch {
		case strings.HasPrefix(line, "## "):
			if in {
				goto done
			}
			in = strings.TrimSpace(line) == "## Walkthrough"
		case in:
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				inBlock, isSh = true, m[1] == "sh"
			}
		}
	}
done:
	for i, b := range blocks {
		if b = strings.TrimSpace(b); strings.HasPrefix(b, "authgate serve") {
			if strings.Contains(b, "\n") {
				return w, fmt.Errorf("walkthrough block %q must be the `authgate serve` command alone", b)
			}
			w.setup, w.serve, w.blocks = blocks[:i], b, blocks[i+1:]
			break
		}
	}
	if w.serve == "" || len(w.blocks) == 0 {
		return w, fmt.Errorf("walkthrough of %d sh blocks needs an `authgate serve` block and at least one after it", len(blocks))
	}
	return w, nil
}

// TestWalkthroughs runs each document's walkthrough exactly as written, in
// a fresh directory with the repository's examples/ beside it: the blocks
// before `authgate serve` (if any) in one `bash -euo pipefail`, then the
// serve block (on free loopback ports), then the blocks after it in order
// in one `bash -euo pipefail`, with AUTHGATE_URL, CACERT, ADMIN_KEY and
// ADMIN_SECRET (and a doc's extra listener URLs) set as the document tells
// the reader to set them.
func TestWalkthroughs(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the walkthroughs need curl")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nAUTHGATE_TEST_MAIN=1 exec " + shellQuote(self) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "authgate"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs(filepath.Join(repoRoot, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range walkthroughDocs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			md, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
			if err != nil {
				t.Fatal(err)
			}
			if !opensWithWalkthrough(string(md)) {
				t.Fatalf("%s does not open with a \"## Walkthrough\" section", name)
			}
			w, err := parseWalkthrough(string(md))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			runWalkthrough(t, w, extraListeners[name], bin, examples)
		})
	}
}

// opensWithWalkthrough: the first "## " heading is the walkthrough.
func opensWithWalkthrough(md string) bool {
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "## ") {
			return strings.TrimSpace(line) == "## Walkthrough"
		}
	}
	return false
}

var (
	listenRE = regexp.MustCompile(`msg=listening server=(\S+) addr=(\S+) scheme=https`)
	keyRE    = regexp.MustCompile(`(?m)^\s+key:\s+(\S+)\n\s+secret:\s+(\S+)`)
)

// freePort returns a loopback port free at the time of the call.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// runScript runs blocks in one bash -euo pipefail, each announced on
// stderr so a failure names its block.
func runScript(ctx context.Context, t *testing.T, dir string, env, blocks []string, what string, logs *agtest.SyncBuffer) {
	t.Helper()
	var script strings.Builder
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '--- %s block %d' >&2\n%s", what, i+1, b)
	}
	sh := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script.String())
	sh.Dir, sh.Env = dir, env
	var out bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &out
	if err := sh.Run(); err != nil {
		t.Fatalf("%s failed (%v):\n%s\n--- server log:\n%s", what, err, out.String(), logs.String())
	}
	t.Logf("%s output:\n%s", what, out.String())
}

func runWalkthrough(t *testing.T, w walkthrough, extra []extraListener, bin, examples string) {
	dir := t.TempDir()
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "LANG=C.UTF-8", "TMPDIR=" + dir}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, logs agtest.SyncBuffer
	if len(w.setup) > 0 {
		runScript(ctx, t, dir, env, w.setup, "walkthrough setup", &logs)
	}
	srvEnv := append(env, "AUTHGATE_LISTEN=127.0.0.1:0")
	var clientEnv []string
	waitFor := map[string]bool{} // extra listener addresses
	for _, l := range extra {
		port := freePort(t)
		srvEnv = append(srvEnv, l.env+"=127.0.0.1:"+port)
		clientEnv = append(clientEnv, l.urlVar+"=https://127.0.0.1:"+port)
		waitFor["127.0.0.1:"+port] = true
	}
	// Port 0: the doc's default 8080 may be taken; the test reads the port
	// from the log line the reader sees.
	srv := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", w.serve)
	srv.Dir = dir
	srv.Env = srvEnv
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	srv.Stdout = &stdout
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		main, pending := "", len(waitFor)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				if m[1] == "main" {
					main = m[2]
				} else if waitFor[m[2]] {
					pending--
				}
				if main != "" && pending == 0 {
					addr <- main
					main = ""
				}
			}
		}
		done <- srv.Wait()
	}()
	stop := func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	var listen string
	select {
	case listen = <-addr:
	case err := <-done:
		t.Fatalf("%s exited before listening: %v\n%s", w.serve, err, logs.String())
	case <-ctx.Done():
		stop()
		t.Fatalf("%s did not listen over HTTPS:\n%s", w.serve, logs.String())
	}
	defer stop()
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatal(err)
	}
	// The key is printed on stdout before the listening line on stderr, but
	// the two pipes are copied by different goroutines: wait for it.
	m := keyRE.FindStringSubmatch(stdout.String())
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		m = keyRE.FindStringSubmatch(stdout.String())
	}
	if m == nil {
		t.Fatalf("no bootstrap admin key on stdout:\n%s", stdout.String())
	}

	runScript(ctx, t, dir, append(append(env, clientEnv...), "AUTHGATE_URL=https://localhost:"+port,
		"CACERT=authgate-data/dev-tls/cert.pem", "ADMIN_KEY="+m[1], "ADMIN_SECRET="+m[2]), w.blocks, "walkthrough", &logs)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
