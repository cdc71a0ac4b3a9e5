package packaging

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var repoRoot = func() string {
	abs, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return abs
}()

// dockerfile is what the tests read from the Dockerfile.
type dockerfile struct {
	buildEnv  map[string]string // ENV of the build stage
	buildArgs map[string]string // ARG defaults of the build stage
	goBuild   []string          // the go build command's words, variables unexpanded
	workdir   string            // of the build stage
	finalFrom string
	finalEnv  map[string]string
	user      string
	volumes   []string
}

// parseDockerfile reads the instructions the tests rely on (continuation
// lines joined; JSON and plain forms of VOLUME).
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	d := dockerfile{buildEnv: map[string]string{}, buildArgs: map[string]string{}, finalEnv: map[string]string{}}
	stage := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			stage++
			if stage > 1 {
				d.finalFrom = strings.Fields(rest)[0]
			}
		case "WORKDIR":
			if stage == 1 {
				d.workdir = rest
			}
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			if stage == 1 {
				d.buildArgs[k] = v
			}
		case "ENV":
			env := d.buildEnv
			if stage > 1 {
				env = d.finalEnv
			}
			for _, kv := range shellWords(t, rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q: use the KEY=VALUE form", rest)
				}
				env[k] = v
			}
		case "RUN":
			if stage == 1 && strings.Contains(rest, "go build") {
				if d.goBuild != nil {
					t.Fatal("two go build lines in the Dockerfile")
				}
				d.goBuild = shellWords(t, rest)
			}
		case "USER":
			d.user = rest
		case "VOLUME":
			if strings.HasPrefix(rest, "[") {
				for _, v := range strings.Split(strings.Trim(rest, "[]"), ",") {
					d.volumes = append(d.volumes, strings.Trim(strings.TrimSpace(v), `"`))
				}
			} else {
				d.volumes = append(d.volumes, strings.Fields(rest)...)
			}
		}
	}
	if d.goBuild == nil || d.goBuild[0] != "go" || d.goBuild[1] != "build" {
		t.Fatalf("no RUN go build ... line in the Dockerfile: %q", d.goBuild)
	}
	return d
}

// shellWords splits s as sh would for the quoting the Dockerfile uses
// (double and single quotes, no escapes inside them).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '&' || r == ';' || r == '|':
			t.Fatalf("the go build line must be one command: %q", s)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

var varRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// The values the test builds with, in place of the Dockerfile's build args.
var testArgs = map[string]string{"VERSION": "v0.0.0-packaging-test", "BUILD_DATE": "2026-12-01T00:00:00Z"}

type built struct {
	path, commit string
	err          error
	log          string
}

var (
	buildOnce sync.Once
	binary    built
)

// buildAsDockerfile runs the Dockerfile's go build line from the
// repository root (its WORKDIR after COPY . .) with the build stage's ENV,
// writing the binary to a temporary directory. Built once per test run.
func buildAsDockerfile(t *testing.T) built {
	t.Helper()
	d := parseDockerfile(t)
	buildOnce.Do(func() {
		commit := "unknown"
		if out, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output(); err == nil {
			commit = strings.TrimSpace(string(out))
		}
		args := map[string]string{"COMMIT": commit}
		for k, v := range d.buildArgs {
			args[k] = v
		}
		for k, v := range testArgs {
			args[k] = v
		}
		args["COMMIT"] = commit
		dir, err := os.MkdirTemp("", "authgate-packaging-")
		if err != nil {
			binary.err = err
			return
		}
		out := filepath.Join(dir, "authgate")
		words := slices.Clone(d.goBuild)
		for i, w := range words {
			words[i] = varRE.ReplaceAllStringFunc(w, func(m string) string {
				name := varRE.FindStringSubmatch(m)[1]
				if v, ok := args[name]; ok {
					return v
				}
				if v, ok := d.buildEnv[name]; ok {
					return v
				}
				binary.err = fmt.Errorf("go build line uses $%s, which no ARG or ENV of the build stage defines", name)
				return m
			})
			if i > 0 && words[i-1] == "-o" {
				words[i] = out
			}
		}
		if binary.err != nil {
			return
		}
		cmd := exec.Command(words[0], words[1:]...)
		cmd.Dir = repoRoot
		cmd.Env = os.Environ()
		for k, v := range d.buildEnv {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		log, err := cmd.CombinedOutput()
		binary = built{path: out, commit: commit, err: err, log: strings.Join(words, " ") + "\n" + string(log)}
	})
	if binary.err != nil {
		t.Fatalf("build as the Dockerfile does: %v\n%s", binary.err, binary.log)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// TestDockerfileImage: the image is built CGO off and trimmed, on a
// minimal base, runs as a non-root user, and keeps the data directory
// (the one its ENV gives authgate) in a volume.
func TestDockerfileImage(t *testing.T) {
	d := parseDockerfile(t)
	if d.buildEnv["CGO_ENABLED"] != "0" {
		t.Errorf("build stage ENV CGO_ENABLED = %q, want 0", d.buildEnv["CGO_ENABLED"])
	}
	for _, flag := range []string{"-trimpath", "-ldflags"} {
		if !slices.Contains(d.goBuild, flag) {
			t.Errorf("go build line lacks %s: %q", flag, d.goBuild)
		}
	}
	if ld := d.goBuild[slices.Index(d.goBuild, "-ldflags")+1]; !strings.Contains(ld, "internal/cli.Version=${VERSION}") {
		t.Errorf("-ldflags does not stamp the version: %q", ld)
	}
	if d.workdir != "/src" {
		t.Errorf("build stage WORKDIR %q: the test builds from the repository root as /src", d.workdir)
	}
	if !strings.HasPrefix(d.finalFrom, "gcr.io/distroless/static") && d.finalFrom != "scratch" {
		t.Errorf("final image FROM %s: want distroless/static or scratch", d.finalFrom)
	}
	uid, _, _ := strings.Cut(d.user, ":")
	if uid == "" || uid == "root" || uid == "0" {
		t.Errorf("USER %q: the image must run as a non-root user", d.user)
	}
	dataDir := d.finalEnv["AUTHGATE_DATA_DIR"]
	if dataDir == "" || !slices.Contains(d.volumes, dataDir) {
		t.Errorf("AUTHGATE_DATA_DIR %q is not a VOLUME (%v)", dataDir, d.volumes)
	}
	if d.finalEnv["AUTHGATE_LISTEN"] == "" || strings.HasPrefix(d.finalEnv["AUTHGATE_LISTEN"], "127.") {
		t.Errorf("AUTHGATE_LISTEN %q: a container must listen beyond its loopback", d.finalEnv["AUTHGATE_LISTEN"])
	}
}

// TestDockerfileBinaryIsStaticAndStarts: the binary the Dockerfile's flags
// make has no interpreter and no shared libraries, no path of the build
// machine (-trimpath), reports the stamped version, accepts the image's
// environment, and serves /healthz from an empty data directory, then
// stops cleanly on SIGTERM.
func TestDockerfileBinaryIsStaticAndStarts(t *testing.T) {
	b := buildAsDockerfile(t)
	f, err := elf.Open(b.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("DT_NEEDED libraries %v (%v)", libs, err)
	}
	f.Close()
	raw, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(repoRoot+"/internal")) {
		t.Errorf("the binary contains the build path %s: -trimpath missing", repoRoot)
	}

	version, err := exec.Command(b.path, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authgate " + testArgs["VERSION"] + "\n", "commit:     " + b.commit + "\n", "build date: " + testArgs["BUILD_DATE"] + "\n"} {
		if !strings.Contains(string(version), want) {
			t.Errorf("version output lacks %q:\n%s", want, version)
		}
	}

	d := parseDockerfile(t)
	env := cleanEnv()
	for k, v := range d.finalEnv {
		env = append(env, k+"="+v)
	}
	check := exec.Command(b.path, "config", "check")
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("the image's ENV does not pass config check: %v\n%s", err, out)
	}

	dataDir := filepath.Join(t.TempDir(), "data")
	srv := exec.Command(b.path, "serve")
	srv.Env = append(cleanEnv(), "AUTHGATE_DATA_DIR="+dataDir, "AUTHGATE_LISTEN=127.0.0.1:0")
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`msg=listening server=main addr=(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatal("the binary did not start listening")
	}
	resp, err := http.Get("http://" + a + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("stop on SIGTERM: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "authgate.db")); err != nil {
		t.Fatalf("no store in the data directory: %v", err)
	}
}

// cleanEnv is the test's environment without AUTHGATE_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// requireSystemdAnalyze returns systemd-analyze's path; without it the
// test is skipped, except in full CI runs (AUTHGATE_REQUIRE_POSTGRES set),
// where scripts/deps.sh installs it and its absence fails.
func requireSystemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("systemd-analyze is required (scripts/deps.sh installs systemd): %v", err)
		}
		t.Skip("systemd-analyze not installed")
	}
	return p
}

// TestSystemdUnit: deploy/authgate.service passes systemd-analyze verify
// (with ExecStart pointed at a built binary, as verify needs it to
// exist), its sandbox rates an exposure of at most 2.0 ("OK") in
// systemd-analyze security, and its Environment= lines are a configuration
// the binary accepts.
func TestSystemdUnit(t *testing.T) {
	analyze := requireSystemdAnalyze(t)
	b := buildAsDockerfile(t)
	unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "authgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	replaced := false
	lines := strings.Split(string(unit), "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
			bin, args, _ := strings.Cut(rest, " ")
			if bin != "/usr/local/bin/authgate" {
				t.Errorf("ExecStart runs %s, docs/operations.md installs /usr/local/bin/authgate", bin)
			}
			lines[i] = "ExecStart=" + b.path + " " + args
			replaced = true
		}
		if kv, ok := strings.CutPrefix(l, "Environment="); ok {
			env = append(env, kv)
		}
	}
	if !replaced {
		t.Fatal("no ExecStart= in the unit")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "authgate.service")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for authgate.service: (\d+\.\d+) (\S+)`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s %s", m[1], m[2])
	if exposure, err := strconv.ParseFloat(m[1], 64); err != nil || exposure > 2.0 {
		t.Errorf("exposure %s %s: the sandbox was weakened (at most 2.0)\n%s", m[1], m[2], out)
	}
	check := exec.Command(b.path, "config", "check", "--config", filepath.Join(dir, "empty.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "empty.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	check.Env = append(cleanEnv(), env...)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("the unit's Environment= lines do not pass config check: %v\n%s", err, out)
	}
}
