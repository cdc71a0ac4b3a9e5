package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEnvOverridesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndb: sqlite:/tmp/x.db\ntrusted_proxies: [10.0.0.0/8]\ntls:\n  self_signed: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadEnv([]string{"AUTHGATE_LISTEN=127.0.0.1:9100", "AUTHGATE_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.1", "AUTHGATE_TLS_SELF_SIGNED=false", "OTHER=1"}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" || c.DB != "sqlite:/tmp/x.db" || c.TLS.SelfSigned || len(c.TrustedProxies) != 2 {
		t.Fatalf("merged config wrong: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownYAMLKeyIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("lisen: 127.0.0.1:9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(file); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("want error naming the unknown key, got %v", err)
	}
}

func TestEnvTypes(t *testing.T) {
	c := Default()
	if err := c.LoadEnv([]string{"AUTHGATE_TPV_LOGIN_TOLERANCE=90s", "AUTHGATE_TPV_ENABLED=false", "AUTHGATE_REPLAY_MAX_KEYS=5000"}); err != nil {
		t.Fatal(err)
	}
	if c.TPV.LoginTolerance != 90*time.Second || c.TPV.Enabled || c.Replay.MaxKeys != 5000 {
		t.Fatalf("got %+v %+v", c.TPV, c.Replay)
	}
	if err := c.LoadEnv([]string{"AUTHGATE_TPV_LOGIN_TOLERANCE=soon"}); err == nil || !strings.Contains(err.Error(), "AUTHGATE_TPV_LOGIN_TOLERANCE") {
		t.Fatalf("bad duration must name the variable, got %v", err)
	}
	if err := c.LoadEnv([]string{"AUTHGATE_M2M_TA_PARTNERS=x"}); err == nil || !strings.Contains(err.Error(), "AUTHGATE_M2M_TA_PARTNERS") {
		t.Fatalf("a list of sections cannot be set from the environment, got %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.DB = "mysql://x"
	c.LogLevel = "loud"
	c.TLS.Cert = "cert.pem"
	c.TrustedProxies = []string{"not-a-cidr"}
	c.GCHeapFloorMiB = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"listen", "db:", "log_level", "tls: cert and key", "trusted_proxies", "gc_heap_floor_mib"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestReplayMode(t *testing.T) {
	tests := []struct {
		mode, db   string
		wantMemory bool
		wantValid  bool
	}{
		{"auto", "", true, true},
		{"auto", "sqlite:/tmp/x.db", true, true},
		{"auto", "postgres://u@h/db", false, true},
		{"auto", "postgresql://u@h/db", false, true},
		{"memory", "postgres://u@h/db", true, true}, // one node on PostgreSQL may choose it
		{"database", "", false, true},
		{"shared", "", false, false},
	}
	for _, tt := range tests {
		c := Default()
		c.Replay.Mode, c.DB = tt.mode, tt.db
		if err := c.Validate(); (err == nil) != tt.wantValid {
			t.Errorf("mode %q db %q: Validate() = %v, want valid %v", tt.mode, tt.db, err, tt.wantValid)
		}
		if tt.wantValid && c.ReplayInMemory() != tt.wantMemory {
			t.Errorf("mode %q db %q: in memory %v, want %v", tt.mode, tt.db, !tt.wantMemory, tt.wantMemory)
		}
	}
	c := Default()
	c.Replay.MaxKeys = 10
	if err := c.Validate(); err == nil {
		t.Error("replay.max_keys 10 accepted")
	}
}

// TestAuthFailures: the section is read from YAML and the environment,
// and limits that would make the rules meaningless are refused.
func TestAuthFailures(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("auth_failures:\n  pair_limit: 5\n  window: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadEnv([]string{"AUTHGATE_AUTH_FAILURES_CREDENTIAL_LIMIT=7"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if l := c.AuthFailures.Limits(); l.Pair != 5 || l.Address != 100 || l.Credential != 7 || l.Window != time.Minute {
		t.Fatalf("limits %+v", l)
	}
	for name, f := range map[string]func(*AuthFailures){
		"pair 0":                 func(a *AuthFailures) { a.PairLimit = 0 },
		"address below pair":     func(a *AuthFailures) { a.AddressLimit = a.PairLimit - 1 },
		"credential below pair":  func(a *AuthFailures) { a.CredentialLimit = a.PairLimit - 1 },
		"window under a second":  func(a *AuthFailures) { a.Window = time.Millisecond },
		"window longer than day": func(a *AuthFailures) { a.Window = 25 * time.Hour },
	} {
		c := Default()
		f(&c.AuthFailures)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "auth_failures") {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}
}

// TestHTTPLimits: the per-address limits and deadlines are validated and
// reach httpapi.Limits with the trusted proxies the client address needs.
func TestHTTPLimits(t *testing.T) {
	c := Default()
	if err := c.LoadEnv([]string{"AUTHGATE_MAX_CONNS_PER_ADDR=8", "AUTHGATE_MAX_IN_FLIGHT_PER_ADDR=4", "AUTHGATE_BODY_READ_TIMEOUT=3s",
		"AUTHGATE_READ_HEADER_TIMEOUT=2s", "AUTHGATE_TRUSTED_PROXIES=10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l := c.HTTPLimits()
	if l.MaxConnsPerAddr != 8 || l.MaxInFlightPerAddr != 4 || l.BodyReadTimeout != 3*time.Second || l.ReadHeaderTimeout != 2*time.Second ||
		len(l.ClientAddr.Trusted) != 1 || l.ClientAddr.Trusted[0].String() != "10.0.0.0/8" {
		t.Fatalf("HTTPLimits = %+v", l)
	}
	for _, bad := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxConnsPerAddr = -1 }, "max_conns_per_addr"},
		{func(c *Config) { c.MaxInFlightPerAddr = -1 }, "max_in_flight_per_addr"},
		{func(c *Config) { c.ReadHeaderTimeout = 0 }, "read_header_timeout"},
		{func(c *Config) { c.BodyReadTimeout = time.Hour }, "body_read_timeout"},
	} {
		c := Default()
		bad.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want an error naming %s, got %v", bad.want, err)
		}
	}
}

// An AUTHGATE_* variable that is no configuration key is refused like an
// unknown YAML key, all such variables named at once; the variables read on
// purpose elsewhere pass.
func TestUnknownEnvVariableIsAnError(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string // substrings of the error; nil: no error
	}{
		{"misspelt key", []string{"AUTHGATE_LISTN=127.0.0.1:1"}, []string{"AUTHGATE_LISTN"}},
		{"every unknown named, sorted", []string{"AUTHGATE_TPV_ENABLE=true", "AUTHGATE_LISTEN=127.0.0.1:1", "AUTHGATE_A=1"}, []string{"AUTHGATE_A, AUTHGATE_TPV_ENABLE"}},
		{"a section is not a key", []string{"AUTHGATE_TLS=on"}, []string{"AUTHGATE_TLS"}},
		{"read on purpose", []string{"AUTHGATE_CONFIG=/x.yaml", "AUTHGATE_MASTER_KEY=k", "AUTHGATE_TEST_POSTGRES=postgres://x", "AUTHGATE_REQUIRE_POSTGRES=1",
			"AUTHGATE_TEST_LOG=1", "AUTHGATE_TEST_MAIN=1", "AUTHGATE_LONG_TESTS=1", "AUTHGATE_PG_DIR=/tmp/p", "AUTHGATE_URL=u", "AUTHGATE_KEY=k", "AUTHGATE_SECRET=s"}, nil},
		{"known keys and other prefixes", []string{"AUTHGATE_TPV_ENABLED=true", "AUTHGATE_REPLAY_MODE=memory", "AUTHGATEX=1", "HOME=/root"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.LoadEnv(tt.environ)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("unknown variable accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestReadElsewhereIsWhatTheRepositoryReads keeps ReadElsewhere equal to
// the AUTHGATE_* variables the code (os.Getenv) and the shell scripts read
// that are not configuration keys, so none of them is refused at start.
func TestReadElsewhereIsWhatTheRepositoryReads(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goRE := regexp.MustCompile(`(?:Getenv|LookupEnv)\("(AUTHGATE_[A-Z0-9_]+)"\)`)
	shRE := regexp.MustCompile(`\b(AUTHGATE_[A-Z0-9_]+)\b`)
	read := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		var re *regexp.Regexp
		switch {
		case strings.HasSuffix(path, ".go"):
			re = goRE
		case strings.HasSuffix(path, ".sh"):
			re = shRE
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			read[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AUTHGATE_CONFIG", "AUTHGATE_TEST_POSTGRES", "AUTHGATE_REQUIRE_POSTGRES"} {
		if !read[want] {
			t.Fatalf("the scan did not find %s: it is broken", want)
		}
	}
	for name := range read {
		c := Default()
		if err := c.LoadEnv([]string{name + "=1"}); err != nil && strings.Contains(err.Error(), "unknown environment") {
			t.Errorf("%s is read by the repository but refused by LoadEnv: add it to ReadElsewhere", name)
		}
	}
	for _, name := range ReadElsewhere {
		if !read[name] {
			t.Errorf("ReadElsewhere lists %s, which nothing reads", name)
		}
	}
}

// TestGatewaySection: routes load from YAML (durations as "5s"), an
// unknown route key is an error, and route errors are reported at start.
func TestGatewaySection(t *testing.T) {
	load := func(y string) (Config, error) {
		file := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		return c, c.LoadFile(file)
	}
	c, err := load(`gateway:
  enabled: true
  identity_ttl: 30s
  routes:
    - name: orders
      hosts: [api.example.com]
      path_prefix: /orders
      methods: [GET, POST]
      schemes: [oauth2-bearer, taap-pop]
      resource: orders-api
      scope: orders.read
      upstreams: ["http://10.0.0.5:8080", "http://10.0.0.6:8080"]
      strip_prefix: true
      timeout: 5s
      pass_credentials: false
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if r := c.Gateway.Routes; len(r) != 1 || time.Duration(r[0].Timeout) != 5*time.Second || c.Gateway.IdentityTTL != 30*time.Second ||
		len(r[0].Upstreams) != 2 || !r[0].StripPrefix || r[0].Scope != "orders.read" {
		t.Fatalf("gateway section %+v", c.Gateway)
	}
	if _, err := load("gateway:\n  routes:\n    - {name: x, path_prefx: /x}\n"); err == nil || !strings.Contains(err.Error(), "path_prefx") {
		t.Fatalf("unknown route key: %v", err)
	}
	c, _ = load("gateway:\n  routes:\n    - {name: x, path_prefix: /oauth/token, schemes: [basic], upstreams: ['ftp://h']}\n")
	err = c.Validate()
	for _, want := range []string{"gateway: routes[0] (x)", "inside /oauth", `unknown scheme "basic"`, "http or https"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// The outbox retentions: defaults of a day (done) and a week (failed, still
// requeueable), settable by file and environment, 0 or at least 1h.
func TestOutboxRetentions(t *testing.T) {
	c := Default()
	if c.Outbox.DoneRetention != 24*time.Hour || c.Outbox.FailedRetention != 7*24*time.Hour {
		t.Fatalf("defaults = %+v", c.Outbox)
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("outbox:\n  done_retention: 2h\n  failed_retention: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Outbox.DoneRetention != 2*time.Hour || c.Outbox.FailedRetention != 0 {
		t.Fatalf("from the file: %+v, %v", c.Outbox, err)
	}
	if err := c.LoadEnv([]string{"AUTHGATE_OUTBOX_FAILED_RETENTION=720h"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Outbox.FailedRetention != 720*time.Hour {
		t.Fatalf("from the environment: %+v, %v", c.Outbox, err)
	}
	for _, bad := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Outbox.DoneRetention = time.Minute }, "outbox.done_retention"},
		{func(c *Config) { c.Outbox.DoneRetention = -time.Hour }, "outbox.done_retention"},
		{func(c *Config) { c.Outbox.FailedRetention = 59 * time.Minute }, "outbox.failed_retention"},
	} {
		c := Default()
		bad.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want an error naming %s, got %v", bad.want, err)
		}
	}
}

func TestGCHeapFloorBounds(t *testing.T) {
	for _, tc := range []struct {
		mib   int
		valid bool
	}{{-1, false}, {0, true}, {64, true}, {1 << 16, true}, {1<<16 + 1, false}} {
		c := Default()
		c.GCHeapFloorMiB = tc.mib
		if err := c.Validate(); (err == nil) != tc.valid {
			t.Errorf("gc_heap_floor_mib %d: Validate() = %v, want valid %v", tc.mib, err, tc.valid)
		}
	}
}
