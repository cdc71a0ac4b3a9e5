package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type section struct {
	TTL     time.Duration `yaml:"ttl"`
	Enabled bool          `yaml:"enabled"`
}

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
	var s struct {
		Section section `yaml:"section"`
	}
	if err := applyEnv(reflectValue(&s), "AUTHGATE", map[string]string{"AUTHGATE_SECTION_TTL": "90s", "AUTHGATE_SECTION_ENABLED": "true"}); err != nil {
		t.Fatal(err)
	}
	if s.Section.TTL != 90*time.Second || !s.Section.Enabled {
		t.Fatalf("got %+v", s.Section)
	}
	if err := applyEnv(reflectValue(&s), "AUTHGATE", map[string]string{"AUTHGATE_SECTION_TTL": "soon"}); err == nil || !strings.Contains(err.Error(), "AUTHGATE_SECTION_TTL") {
		t.Fatalf("bad duration must name the variable, got %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.DB = "mysql://x"
	c.LogLevel = "loud"
	c.TLS.Cert = "cert.pem"
	c.TrustedProxies = []string{"not-a-cidr"}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"listen", "db:", "log_level", "tls: cert and key", "trusted_proxies"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

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
