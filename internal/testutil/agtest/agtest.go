// Package agtest starts an in-process authgate for tests: core services on a
// fresh store (SQLite in a temp dir, or PostgreSQL), the given protocol
// modules behind the real handler chain, on a loopback listener that is
// closed when the test ends.
package agtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/sqlite"
)

// Env is a running test server.
type Env struct {
	URL   string
	Svc   core.Services
	Clock *core.ManualClock // nil unless Options.ManualClock
	Admin core.BootstrapResult
	Srv   *httptest.Server
}

// Options select the backend and clock.
type Options struct {
	// PostgresDSN selects PostgreSQL (use pgtest.DSN(t)); "" selects SQLite.
	PostgresDSN string
	// ManualClock starts a ManualClock at this time instead of the system clock.
	ManualClock time.Time
	// TLS serves HTTPS (httptest's certificate; use Env.Srv.Client()).
	TLS bool
	// Log receives server logs; default discards unless AUTHGATE_TEST_LOG=1.
	Log *slog.Logger
	// MasterKey fixes the master key (shared by several nodes on one database).
	MasterKey []byte
	// PreviousMasterKeys are further master keys the node knows (a
	// rotation); with them the node follows the database's keyring state
	// (core.Services.CheckKeyring) before serving.
	PreviousMasterKeys [][]byte
	// SQLitePath opens this SQLite file instead of a fresh one (several
	// services on one SQLite store).
	SQLitePath string
	// AuthLimits replaces the default failed-authentication limits when set.
	AuthLimits core.GuardLimits
	// ReadCacheMaxAge turns on the store's read cache and the TPV auth
	// token cache (read_cache_max_age, on by default in serve on
	// PostgreSQL); zero leaves them off, so a write through one test node
	// is seen by the others at once.
	ReadCacheMaxAge time.Duration
}

// NewServices opens a store and builds core services without a server.
func NewServices(t testing.TB, opt Options) (core.Services, *core.ManualClock) {
	t.Helper()
	ctx := context.Background()
	var st core.Store
	var err error
	if opt.PostgresDSN != "" {
		st, err = postgres.Open(ctx, opt.PostgresDSN, postgres.Options{})
	} else {
		path := opt.SQLitePath
		if path == "" {
			path = filepath.Join(t.TempDir(), "authgate.db")
		}
		st, err = sqlite.Open(ctx, path, sqlite.Options{})
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	master := opt.MasterKey
	if master == nil {
		master = make([]byte, core.MasterKeySize)
		if _, err := rand.Read(master); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := core.NewKeyring(master, opt.PreviousMasterKeys...)
	if err != nil {
		t.Fatal(err)
	}
	var clock core.Clock = core.SystemClock{}
	var manual *core.ManualClock
	if !opt.ManualClock.IsZero() {
		manual = core.NewManualClock(opt.ManualClock)
		clock = manual
	}
	log := opt.Log
	if log == nil {
		if os.Getenv("AUTHGATE_TEST_LOG") == "1" {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	}
	svc := core.NewServices(st, keys, clock, log)
	if rc, ok := st.(core.ReadCacher); ok && opt.ReadCacheMaxAge > 0 {
		rc.CacheReads(opt.ReadCacheMaxAge, clock)
		svc.Tokens.EnableCache(core.TokenTPVAuth, opt.ReadCacheMaxAge)
	}
	if opt.AuthLimits != (core.GuardLimits{}) {
		svc.Guard = core.NewGuard(st, clock, opt.AuthLimits)
	}
	if len(opt.PreviousMasterKeys) > 0 {
		if err := svc.CheckKeyring(ctx); err != nil {
			t.Fatalf("keyring: %v", err)
		}
	}
	return svc, manual
}

// Start builds services, bootstraps the admin, lets build construct the
// modules under test, and serves them on loopback.
func Start(t testing.TB, opt Options, build func(svc core.Services) []httpapi.Module) *Env {
	t.Helper()
	svc, manual := NewServices(t, opt)
	boot, err := svc.EnsureBootstrapAdmin(context.Background())
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	var mods []httpapi.Module
	if build != nil {
		mods = build(svc)
	}
	h := httpapi.NewHandler(httpapi.Options{Log: svc.Log, Ready: svc.Store}, mods...)
	var srv *httptest.Server
	if opt.TLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &Env{URL: srv.URL, Svc: svc, Clock: manual, Admin: boot, Srv: srv}
}

// Serve runs srv (an extra listener such as the mTLS device listener)
// until the test ends and returns the address it listens on; a server that
// stops before listening fails the test.
func Serve(t testing.TB, ctx context.Context, srv *httpapi.Server) net.Addr {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	up := make(chan net.Addr, 1)
	srv.Listening = func(a net.Addr) { up <- a }
	srv.DrainTime = time.Second
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case a := <-up:
		t.Cleanup(func() { cancel(); <-done })
		return a
	case err := <-done:
		cancel()
		t.Fatalf("server stopped before listening: %v", err)
		return nil
	}
}

// SyncBuffer is a bytes.Buffer that one goroutine may write (a server's
// log, a child process's output) while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
