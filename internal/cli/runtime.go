package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store"
)

// globalFlags are the flags every server-side command shares. Only flags
// the user set override the file and environment.
type globalFlags struct {
	configFile    string
	listen        string
	dataDir       string
	db            string
	masterKeyFile string
	previousKeys  []string
	logLevel      string
	logFormat     string
	tlsCert       string
	tlsKey        string
	selfSigned    bool
	publicURL     string
	// serverLogs is set by serve: its log lines go out at the configured
	// level; every other command logs warnings and errors only.
	serverLogs bool
}

// server registers the server's flags on cmds and every command under them.
func (g *globalFlags) server(cmds ...*cobra.Command) []*cobra.Command {
	for _, c := range cmds {
		g.register(c)
	}
	return cmds
}

func (g *globalFlags) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.configFile, "config", "", "YAML configuration file (env AUTHGATE_CONFIG)")
	f.StringVar(&g.listen, "listen", "", "address of the main listener (default 127.0.0.1:8080)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory for SQLite, master key and CA (default ./authgate-data)")
	f.StringVar(&g.db, "db", "", "database: postgres://... or sqlite:PATH (default SQLite in the data directory)")
	f.StringVar(&g.masterKeyFile, "master-key-file", "", "file with the 32-byte master key (default DATA_DIR/master.key; env AUTHGATE_MASTER_KEY holds the key itself)")
	f.StringSliceVar(&g.previousKeys, "previous-master-key-file", nil, "file with a previous master key still accepted during a rotation (repeatable; see docs/operations.md)")
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error")
	f.StringVar(&g.logFormat, "log-format", "", "text or json")
	f.StringVar(&g.tlsCert, "tls-cert", "", "TLS certificate (PEM) for the main listener")
	f.StringVar(&g.tlsKey, "tls-key", "", "TLS private key (PEM) for the main listener")
	f.BoolVar(&g.selfSigned, "self-signed", false, "serve TLS with a generated development certificate")
	f.StringVar(&g.publicURL, "public-url", "", "external base URL used in links")
}

// load builds the configuration: defaults < file < environment < flags.
func (g *globalFlags) load(cmd *cobra.Command) (config.Config, error) {
	cfg := config.Default()
	file := g.configFile
	if file == "" {
		file = os.Getenv("AUTHGATE_CONFIG")
	}
	var loadErrs []error // the file's and the environment's problems, together
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			loadErrs = append(loadErrs, err)
		}
	}
	if err := cfg.LoadEnv(os.Environ()); err != nil {
		loadErrs = append(loadErrs, err)
	}
	if len(loadErrs) > 0 {
		return cfg, errors.Join(loadErrs...)
	}
	f := cmd.Flags()
	set := func(name string, dst *string, v string) {
		if f.Changed(name) {
			*dst = v
		}
	}
	set("listen", &cfg.Listen, g.listen)
	set("data-dir", &cfg.DataDir, g.dataDir)
	set("db", &cfg.DB, g.db)
	set("master-key-file", &cfg.MasterKeyFile, g.masterKeyFile)
	if f.Changed("previous-master-key-file") {
		cfg.PreviousMasterKeyFiles = g.previousKeys
	}
	set("log-level", &cfg.LogLevel, g.logLevel)
	set("log-format", &cfg.LogFormat, g.logFormat)
	set("tls-cert", &cfg.TLS.Cert, g.tlsCert)
	set("tls-key", &cfg.TLS.Key, g.tlsKey)
	set("public-url", &cfg.PublicURL, g.publicURL)
	if f.Changed("self-signed") {
		cfg.TLS.SelfSigned = g.selfSigned
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// newLogger writes slog lines to w at the level of level, which a
// reload may change (log_level).
func newLogger(cfg config.Config, w io.Writer, level *slog.LevelVar) *slog.Logger {
	level.Set(parseLevel(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parseLevel reads a validated log_level.
func parseLevel(s string) slog.Level {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(s))
	return lvl
}

// loadMasterKey reads the master key from AUTHGATE_MASTER_KEY or its file,
// generating the file (0600) on first start.
func loadMasterKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if v := os.Getenv("AUTHGATE_MASTER_KEY"); v != "" {
		return core.ParseMasterKey(v)
	}
	path := cfg.MasterKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "master.key")
	}
	key, err := readKeyFile(path)
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, fs.ErrNotExist) && cfg.MasterKeyFile == "":
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		key := []byte(core.NewID() + core.NewID()) // 64 hex digits from crypto/rand
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) { // another process won the race
				return loadMasterKey(cfg, log)
			}
			return nil, err
		}
		if _, err := f.Write(append(key, '\n')); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		log.Info("generated master key", slog.String("file", path))
		return core.ParseMasterKey(string(key))
	default:
		return nil, fmt.Errorf("read master key: %w", err)
	}
}

// readKeyFile reads a master key file, which only its owner may read.
// Errors name the file, never its content.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if st, serr := os.Stat(path); serr == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	key, err := core.ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

// loadKeyring builds the node's keyring: its master key and the previous
// master keys it still knows.
func loadKeyring(cfg config.Config, log *slog.Logger) (*core.Keyring, error) {
	master, err := loadMasterKey(cfg, log)
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	for _, path := range cfg.PreviousMasterKeyFiles {
		k, err := readKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("previous master key: %w", err)
		}
		previous = append(previous, k)
	}
	return core.NewKeyring(master, previous...)
}

// runtime is what server-side commands share: configuration, logger, the
// open store and the core services.
type runtime struct {
	cfg   config.Config
	log   *slog.Logger
	level *slog.LevelVar // the logger's level (log_level, reloadable)
	svc   core.Services
}

func openRuntime(ctx context.Context, g *globalFlags, cmd *cobra.Command) (*runtime, error) {
	cfg, err := g.load(cmd)
	if err != nil {
		return nil, err
	}
	// Only the server logs progress: a successful administration command
	// prints its data and nothing on stderr, unless --log-level asks.
	if !g.serverLogs && !cmd.Flags().Changed("log-level") {
		cfg.LogLevel = "warn"
	}
	level := new(slog.LevelVar)
	log := newLogger(cfg, cmd.ErrOrStderr(), level)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	keys, err := loadKeyring(cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	log.Info("storage ready", slog.String("backend", st.Dialect()), slog.String("db", redactDSN(cfg.DB)))
	svc := core.NewServices(st, keys, core.SystemClock{}, log)
	if err := svc.CheckKeyring(ctx); err != nil {
		st.Close()
		return nil, err
	}
	svc.Guard = core.NewGuard(st, svc.Clock, cfg.AuthFailures.Limits())
	useReadCache(svc, cfg.ReadCacheMaxAge)
	return &runtime{cfg: cfg, log: log, level: level, svc: svc}, nil
}

// useReadCache turns on, on PostgreSQL, where every read is a network
// round trip shared by all nodes, the store's read cache of credentials
// and principals and the token cache for TPV auth tokens (issued for 30
// minutes, changed in the store only by revocation), both bounded by
// read_cache_max_age. SQLite reads are local and stay uncached.
func useReadCache(svc core.Services, maxAge time.Duration) {
	if svc.Store.Dialect() != "postgres" {
		return
	}
	if rc, ok := svc.Store.(core.ReadCacher); ok {
		rc.CacheReads(maxAge, svc.Clock)
	}
	svc.Tokens.EnableCache(core.TokenTPVAuth, maxAge)
}

func (r *runtime) Close() error { return r.svc.Store.Close() }

// useReplayMode switches the replay cache to memory mode when the
// configuration resolves to it (a node alone on SQLite by default), and
// marks the services as alone on their store. The
// caller runs svc.Replay.Run and calls svc.Replay.Close after draining.
func useReplayMode(ctx context.Context, svc *core.Services, inMemory bool, maxKeys int, log *slog.Logger) error {
	if !inMemory {
		// A memory-mode run before may have stopped uncleanly: honour its fence.
		if err := svc.Replay.ApplyFence(ctx, svc.Store, log); err != nil {
			return fmt.Errorf("replay cache: %w", err)
		}
		return nil
	}
	r, err := core.OpenMemoryReplay(ctx, svc.Store, svc.Clock, core.MemoryReplayOptions{MaxKeys: maxKeys, Log: log})
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	svc.Replay, svc.Alone = r, true
	svc.Guard.SetAlone() // every failure is counted here: no store read on a clean success
	return nil
}

// closeReplay ends the replay cache after the listeners have drained.
func closeReplay(svc core.Services, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.Replay.Close(ctx); err != nil {
		log.Error("replay cache not closed cleanly", slog.Any("err", err))
	}
}

// redactDSN hides the password of a postgres URL for logs.
func redactDSN(dsn string) string {
	if dsn == "" {
		return "sqlite (data dir)"
	}
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if i := strings.Index(dsn, "://"); i > 0 {
			userinfo := dsn[i+3 : at]
			if u, _, ok := strings.Cut(userinfo, ":"); ok {
				return dsn[:i+3] + u + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}
