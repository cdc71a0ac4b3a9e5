// Package config holds authgate's configuration: defaults, an optional
// YAML file, AUTHGATE_* environment variables and command-line flags, in
// that order of precedence (flags win), validated once at start.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/subscription"
)

// Config is the whole server configuration. Every field can be set in the
// YAML file by its yaml name, and by the environment variable AUTHGATE_
// followed by the upper-cased path joined with '_' (e.g. AUTHGATE_TLS_CERT).
type Config struct {
	Listen         string   `yaml:"listen"`          // host:port of the main listener
	PublicURL      string   `yaml:"public_url"`      // base URL of links and issuers; default: the address a request arrived on
	AllowedHosts   []string `yaml:"allowed_hosts"`   // Host headers believed for links when public_url is unset
	DataDir        string   `yaml:"data_dir"`        // SQLite file, master key, CA material
	DB             string   `yaml:"db"`              // "" (SQLite in data_dir), sqlite:PATH or postgres://...
	MasterKeyFile  string   `yaml:"master_key_file"` // default data_dir/master.key; AUTHGATE_MASTER_KEY overrides with the key itself
	LogLevel       string   `yaml:"log_level"`       // debug, info, warn, error
	LogFormat      string   `yaml:"log_format"`      // text or json
	AccessLog      bool     `yaml:"access_log"`      // one log line per request (costs about 3 µs each)
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`
	MaxInFlight    int      `yaml:"max_in_flight"`
	TrustedProxies []string `yaml:"trusted_proxies"` // CIDRs whose X-Forwarded-* headers are believed
	MetricsListen  string   `yaml:"metrics_listen"`  // host:port serving only GET /metrics (plain HTTP); "" serves it on the main listener
	// GCHeapFloorMiB keeps the garbage collector's heap goal at least this
	// large (internal/gctune); 0: GOGC's proportional goal alone.
	GCHeapFloorMiB int    `yaml:"gc_heap_floor_mib"`
	TLS            TLS    `yaml:"tls"`
	Replay         Replay `yaml:"replay"`
	// ReadCacheMaxAge: on PostgreSQL, how long a node trusts a credential
	// or principal it read (a revocation made on another node is honoured
	// here at the latest this much later); 0 reads every time.
	ReadCacheMaxAge time.Duration `yaml:"read_cache_max_age"`
	// Per client address, on every listener (see httpapi.Limits).
	MaxConnsPerAddr    int           `yaml:"max_conns_per_addr"`
	MaxInFlightPerAddr int           `yaml:"max_in_flight_per_addr"`
	ReadHeaderTimeout  time.Duration `yaml:"read_header_timeout"`
	BodyReadTimeout    time.Duration `yaml:"body_read_timeout"`
	// AuthFailures limits failed authentications of every family (docs/limiter.md).
	AuthFailures AuthFailures `yaml:"auth_failures"`
	Audit        Audit        `yaml:"audit"`
	Outbox       Outbox       `yaml:"outbox"`
	Tracing      Tracing      `yaml:"tracing"`
	// PreviousMasterKeyFiles are master keys this node still opens and
	// verifies with during a rotation (docs/operations.md, Rotate).
	PreviousMasterKeyFiles []string `yaml:"previous_master_key_files"`
	// MasterKeyRefresh is how often a node follows the database's active
	// master key (a rotation switches every node within it).
	MasterKeyRefresh time.Duration `yaml:"master_key_refresh"`
	// Protocol sections are added below by each adapter.
	TPV    tpv.Config    `yaml:"tpv"`
	OAuth2 oauth2.Config `yaml:"oauth2"`
	M2M    m2m.Config    `yaml:"m2m"`
	CA     ca.Config     `yaml:"ca"`
	// TAAP is T-Mobile TAAP proof-of-possession (family 4).
	TAAP     taap.Config     `yaml:"taap"`
	Apstrata apstrata.Config `yaml:"apstrata"`
	// Subscriptions governs API resources, plans and subscriptions.
	Subscriptions subscription.Config `yaml:"subscriptions"`
	// Identities configures device identities and their mTLS listener.
	Identities device.Config `yaml:"identities"`
	// Gateway puts authgate in front of the user's own API (docs/gateway.md).
	Gateway gateway.Config `yaml:"gateway"`
	// Console is the admin console at /console (docs/console.md).
	Console console.Config `yaml:"console"`
}

// TLS configures the main listener's TLS.
type TLS struct {
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	SelfSigned bool   `yaml:"self_signed"` // generate a development certificate in data_dir
}

// Replay chooses where the replay cache decides.
type Replay struct {
	// Mode: "auto" (memory on SQLite, database on PostgreSQL), "memory"
	// (this node alone decides, writing behind to the store: one node per
	// store only) or "database" (every check is an insert in the store,
	// shared by all nodes).
	Mode string `yaml:"mode"`
	// MaxKeys bounds the keys kept in memory; beyond it, checks go to the store.
	MaxKeys int `yaml:"max_keys"`
}

// AuthFailures are the failed-authentication limits shared by every
// protocol family: failures per credential and address, per address (IPv6
// /64), and per credential over all addresses, each in any span of Window.
type AuthFailures struct {
	PairLimit       int           `yaml:"pair_limit"`
	AddressLimit    int           `yaml:"address_limit"`
	CredentialLimit int           `yaml:"credential_limit"`
	Window          time.Duration `yaml:"window"`
}

// Tracing exports OpenTelemetry traces over OTLP/HTTP; off by default.
type Tracing struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP traces URL
	// (e.g. http://127.0.0.1:4318/v1/traces).
	Endpoint string `yaml:"endpoint"`
	// ServiceName is the service.name resource attribute.
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of new traces sampled (0..1); a request
	// whose traceparent is sampled is always traced.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Audit governs the audit log.
type Audit struct {
	// Retention is how long audit events are kept; the janitor deletes
	// older ones. 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// Outbox governs the durable outbox of background work (the M2M
// callbacks and executions): how long finished jobs are kept.
type Outbox struct {
	// DoneRetention is how long a delivered job stays listed; the janitor
	// deletes older ones. 0 keeps them forever.
	DoneRetention time.Duration `yaml:"done_retention"`
	// FailedRetention is how long a failed job can still be requeued. 0
	// keeps them forever.
	FailedRetention time.Duration `yaml:"failed_retention"`
}

// Limits converts the section for core.NewGuard.
func (a AuthFailures) Limits() core.GuardLimits {
	return core.GuardLimits{Pair: a.PairLimit, Address: a.AddressLimit, Credential: a.CredentialLimit, Window: a.Window}
}

// ReplayInMemory resolves Mode for the configured backend.
func (c *Config) ReplayInMemory() bool {
	switch c.Replay.Mode {
	case "memory":
		return true
	case "database":
		return false
	}
	return !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://")
}

// HTTPLimits are the per-address limits and deadlines every listener
// applies. Call after Validate (trusted_proxies is parsed again here).
func (c *Config) HTTPLimits() httpapi.Limits {
	trusted, _ := httpapi.ParsePrefixes(c.TrustedProxies)
	return httpapi.Limits{ClientAddr: httpapi.ClientAddr{Trusted: trusted}, MaxConnsPerAddr: c.MaxConnsPerAddr,
		MaxInFlightPerAddr: c.MaxInFlightPerAddr, ReadHeaderTimeout: c.ReadHeaderTimeout, BodyReadTimeout: c.BodyReadTimeout}
}

// Default returns the zero-configuration defaults.
func Default() Config {
	return Config{
		Listen:       "127.0.0.1:8080",
		DataDir:      "./authgate-data",
		LogLevel:     "info",
		LogFormat:    "text",
		AccessLog:    true,
		MaxBodyBytes: 1 << 20,
		MaxInFlight:  4096,

		GCHeapFloorMiB: 64,

		MasterKeyRefresh: 10 * time.Second,

		MaxConnsPerAddr:    512,
		MaxInFlightPerAddr: 256,
		ReadHeaderTimeout:  5 * time.Second,
		BodyReadTimeout:    10 * time.Second,

		Replay:          Replay{Mode: "auto", MaxKeys: 1 << 20},
		ReadCacheMaxAge: time.Second,
		AuthFailures:    authFailuresDefault(),
		Audit:           Audit{Retention: 90 * 24 * time.Hour},
		Outbox:          Outbox{DoneRetention: 24 * time.Hour, FailedRetention: 7 * 24 * time.Hour},
		Tracing:         Tracing{ServiceName: "authgate", SampleRatio: 1},
		TPV:             tpv.DefaultConfig(),
		OAuth2:          oauth2.DefaultConfig(),
		M2M:             m2m.DefaultConfig(),
		CA:              ca.DefaultConfig(),
		TAAP:            taap.DefaultConfig(),
		Apstrata:        apstrata.DefaultConfig(),

		Subscriptions: subscription.DefaultConfig(),
		Identities:    device.DefaultConfig(),
		Gateway:       gateway.DefaultConfig(),
		Console:       console.DefaultConfig(),
	}
}

func authFailuresDefault() AuthFailures {
	d := core.DefaultGuardLimits()
	return AuthFailures{PairLimit: d.Pair, AddressLimit: d.Address, CredentialLimit: d.Credential, Window: d.Window}
}

// LoadFile merges a YAML file into c. Unknown keys are an error so typos
// do not pass silently.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if unknown := unknownKeys(&doc, reflect.TypeOf(*c), ""); len(unknown) > 0 {
		return fmt.Errorf("config %s:\n  %s", path, strings.Join(unknown, "\n  "))
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // the check above names keys better; this one stays as the backstop
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ReadElsewhere are the AUTHGATE_* variables that are not configuration
// keys but are read on purpose by the CLI (the config file, the master key,
// `authgate token`'s defaults) or by tests and scripts; LoadEnv lets them
// pass. A test keeps this list equal to what the code and scripts read.
var ReadElsewhere = []string{
	"AUTHGATE_CONFIG", "AUTHGATE_MASTER_KEY", // runtime: config file, master key
	"AUTHGATE_URL", "AUTHGATE_KEY", "AUTHGATE_SECRET", // authgate token
	"AUTHGATE_TEST_POSTGRES", "AUTHGATE_REQUIRE_POSTGRES", "AUTHGATE_PG_DIR", // test.sh, scripts/postgres.sh, pgtest
	"AUTHGATE_TEST_LOG", "AUTHGATE_TEST_MAIN", "AUTHGATE_LONG_TESTS", // tests
}

// LoadEnv applies AUTHGATE_* variables from environ ("K=V" pairs). A
// variable that is neither a configuration key nor in ReadElsewhere is an
// error, as an unknown YAML key is, so a misspelt override does not pass
// silently; every such variable is named at once, with the nearest known
// name when one is close.
func (c *Config) LoadEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AUTHGATE_") {
			env[k] = v
		}
	}
	root := reflect.ValueOf(c).Elem()
	for _, k := range Keys() {
		raw, ok := env[k.Env]
		if k.Env == "" || k.Section || !ok {
			continue
		}
		delete(env, k.Env)
		if err := setValue(fieldByPath(root, k.Path), raw); err != nil {
			return fmt.Errorf("%s: %w", k.Env, err)
		}
	}
	var unknown, hints []string
	known := envNames()
	for k := range env {
		if !slices.Contains(ReadElsewhere, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		for _, k := range unknown {
			if n := nearest(k, known); n != "" {
				hints = append(hints, k+": did you mean "+n+"?")
			}
		}
		msg := fmt.Sprintf("unknown environment variables %s: not configuration keys (README, Configuration)", strings.Join(unknown, ", "))
		if len(hints) > 0 {
			msg += "; " + strings.Join(hints, "; ")
		}
		return errors.New(msg)
	}
	return nil
}

func setValue(fv reflect.Value, raw string) error {
	switch {
	case fv.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.Kind() >= reflect.Int && fv.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		fv.SetFloat(f)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validator is implemented by configuration sections that check themselves.
type Validator interface {
	Validate() error
}

// Validate checks the whole configuration and returns every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: must be host:port", c.Listen))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics_listen %q: must be host:port", c.MetricsListen))
		} else if c.MetricsListen == c.Listen {
			errs = append(errs, errors.New("metrics_listen must differ from listen"))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set"))
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") && !strings.HasPrefix(c.DB, "sqlite:") {
		errs = append(errs, fmt.Errorf("db: use postgres://..., postgresql://... or sqlite:PATH"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: use debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: use text or json", c.LogFormat))
	}
	if c.MasterKeyRefresh < 100*time.Millisecond || c.MasterKeyRefresh > 10*time.Minute {
		errs = append(errs, fmt.Errorf("master_key_refresh %v: must be between 100ms and 10m", c.MasterKeyRefresh))
	}
	for _, f := range c.PreviousMasterKeyFiles {
		if f == "" {
			errs = append(errs, errors.New("previous_master_key_files: empty file name"))
		}
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max_body_bytes must be at least 1024"))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, errors.New("max_in_flight must be at least 1"))
	}
	if c.GCHeapFloorMiB < 0 || c.GCHeapFloorMiB > 1<<16 {
		errs = append(errs, errors.New("gc_heap_floor_mib must be 0 (off) to 65536"))
	}
	if c.MaxConnsPerAddr < 0 {
		errs = append(errs, errors.New("max_conns_per_addr must be 0 (off) or more"))
	}
	if c.MaxInFlightPerAddr < 0 {
		errs = append(errs, errors.New("max_in_flight_per_addr must be 0 (off) or more"))
	}
	if c.ReadHeaderTimeout < time.Second || c.ReadHeaderTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("read_header_timeout %v: must be between 1s and 1m", c.ReadHeaderTimeout))
	}
	if c.BodyReadTimeout < time.Second || c.BodyReadTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("body_read_timeout %v: must be between 1s and 10m", c.BodyReadTimeout))
	}
	switch c.Replay.Mode {
	case "auto", "memory", "database":
	default:
		errs = append(errs, fmt.Errorf("replay.mode %q: use auto, memory or database", c.Replay.Mode))
	}
	if c.ReadCacheMaxAge < 0 || c.ReadCacheMaxAge > time.Minute {
		errs = append(errs, fmt.Errorf("read_cache_max_age %v: must be between 0 and 1m", c.ReadCacheMaxAge))
	}
	if c.Replay.MaxKeys < 1000 {
		errs = append(errs, errors.New("replay.max_keys must be at least 1000"))
	}
	if f := c.AuthFailures; f.PairLimit < 1 || f.AddressLimit < f.PairLimit || f.CredentialLimit < f.PairLimit {
		errs = append(errs, errors.New("auth_failures: pair_limit must be at least 1, address_limit and credential_limit at least pair_limit"))
	}
	if w := c.AuthFailures.Window; w < time.Second || w > 24*time.Hour {
		errs = append(errs, fmt.Errorf("auth_failures.window %v: must be between 1s and 24h", w))
	}
	if t := c.Tracing; t.Enabled {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.endpoint %q: must be an http(s) URL of an OTLP/HTTP traces receiver", t.Endpoint))
		}
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio %v: must be between 0 and 1", r))
	}
	if c.Tracing.ServiceName == "" {
		errs = append(errs, errors.New("tracing.service_name must not be empty"))
	}
	if r := c.Audit.Retention; r != 0 && r < time.Hour {
		errs = append(errs, fmt.Errorf("audit.retention %v: must be 0 (keep forever) or at least 1h", r))
	}
	// At least an hour: a done notification's job id is what keeps an
	// execution re-run after a lost lease from queueing it again.
	if r := c.Outbox.DoneRetention; r != 0 && r < time.Hour {
		errs = append(errs, fmt.Errorf("outbox.done_retention %v: must be 0 (keep forever) or at least 1h", r))
	}
	if r := c.Outbox.FailedRetention; r != 0 && r < time.Hour {
		errs = append(errs, fmt.Errorf("outbox.failed_retention %v: must be 0 (keep forever) or at least 1h", r))
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		errs = append(errs, errors.New("tls: cert and key must be given together"))
	}
	if c.TLS.SelfSigned && c.TLS.Cert != "" {
		errs = append(errs, errors.New("tls: self_signed and cert/key are exclusive"))
	}
	if _, err := httpapi.ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
	}
	if _, err := httpapi.NewOrigin(c.PublicURL, c.AllowedHosts, httpapi.ClientAddr{}); err != nil {
		errs = append(errs, err)
	}
	// Protocol sections validate themselves.
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Addr().Interface().(Validator); ok {
			if err := s.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0], err))
			}
		}
	}
	return errors.Join(errs...)
}
