package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/authgate/authgate/internal/gctune"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/store"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the authgate server",
		Long: `Run the authgate server. With no flags: SQLite in ./authgate-data, a master key
generated there on first start, HTTP on 127.0.0.1:8080, and a bootstrap admin key and
secret printed once on the first start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.serverLogs = true
			return serve(cmd.Context(), g, cmd, nil)
		},
	}
}

// serve runs until ctx is cancelled. ready, if set, is called with the main
// listener's address (tests use it).
func serve(ctx context.Context, g *globalFlags, cmd *cobra.Command, ready func(net.Addr)) error {
	// SIGHUP reloads (see reload.go); caught from the start so an early
	// one does not end the process, handled once everything is served.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rt, err := openRuntime(ctx, g, cmd)
	if err != nil {
		return err
	}
	defer rt.Close()
	gc := gctune.Start(uint64(rt.cfg.GCHeapFloorMiB)<<20, os.Getenv, rt.log)
	defer gc.Stop()
	// Claimed before anything is served or written, held until the store closes.
	claim, err := store.Claim(ctx, rt.svc.Store, rt.cfg.DB, rt.cfg.DataDir, rt.cfg.ReplayInMemory())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer claim.Close()
	boot, err := rt.svc.EnsureBootstrapAdmin(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if boot.Created {
		// Printed once, to stdout only: the secret is never logged and never stored in clear.
		fmt.Fprintf(cmd.OutOrStdout(), "Bootstrap admin access key (shown once, store it now):\n  key:    %s\n  secret: %s\n", boot.Key, boot.Secret)
	}
	if err := useReplayMode(ctx, &rt.svc, rt.cfg.ReplayInMemory(), rt.cfg.Replay.MaxKeys, rt.log); err != nil {
		return err
	}
	defer closeReplay(rt.svc, rt.log) // after the listeners drained, before the store closes
	rt.log.Info("replay cache", slog.Bool("in_memory", rt.svc.Replay.InMemory()))
	mods, err := buildModules(ctx, rt)
	if err != nil {
		return err
	}
	defer func() { // flush the spans still buffered, bounded
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := mods.tracing.Shutdown(sctx); err != nil {
			rt.log.Warn("tracing shutdown", slog.Any("err", err))
		}
	}()
	cfg := rt.cfg
	accessLog := httpapi.AccessLogOn
	if !cfg.AccessLog {
		accessLog = httpapi.AccessLogOff
	}
	opts := httpapi.Options{
		Log: rt.log, Ready: rt.svc.Store, MaxBodyBytes: cfg.MaxBodyBytes, MaxInFlight: cfg.MaxInFlight, AccessLog: accessLog,
		Limits:   cfg.HTTPLimits(),
		Registry: mods.metrics, Server: "main", ServeMetrics: cfg.MetricsListen == "", Tracing: mods.tracing,
	}
	if mods.gateway != nil {
		opts.Fallback = mods.gateway // requests no built-in route serves
	}
	handler := httpapi.NewHandler(opts, mods.http...)
	if mods.gateway != nil {
		if err := mods.gateway.Mount(handler.Serves); err != nil {
			return err
		}
		if err := mods.gateway.Reload(ctx); err != nil { // the stored routes, before the first request
			return fmt.Errorf("gateway routes: %w", err)
		}
	}
	var tlsCfg *tls.Config
	switch {
	case cfg.TLS.Cert != "":
		// Served through GetCertificate: a reload swaps the pair for new handshakes.
		certs, err := httpapi.LoadCertFiles(cfg.TLS.Cert, cfg.TLS.Key, rt.svc.Clock.Now)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tlsCfg = certs.TLSConfig()
		mods.reload = append([]httpapi.Reloadable{{Name: "tls.cert/tls.key (main listener)", Reload: certs.Reload}}, mods.reload...)
	case cfg.TLS.SelfSigned:
		dir := filepath.Join(cfg.DataDir, "dev-tls")
		cert, err := devCertificate(dir, rt.svc.Clock.Now())
		if err != nil {
			return fmt.Errorf("self-signed certificate: %w", err)
		}
		// Said at start so a client can trust it (curl --cacert PATH).
		path := devCertPath(dir)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		rt.log.Info("self-signed development certificate", slog.String("cert", path), slog.String("names", "localhost 127.0.0.1 ::1"))
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	grp, gctx := errgroup.WithContext(ctx)
	main := &httpapi.Server{Name: "main", Addr: cfg.Listen, Handler: handler, TLS: tlsCfg, Log: rt.log, Listening: ready, Limits: cfg.HTTPLimits(), Certificates: mods.certs}
	grp.Go(func() error { return main.Run(gctx) })
	if cfg.MetricsListen != "" {
		// GET /metrics alone, off the listener clients reach.
		ms := &httpapi.Server{Name: "metrics", Addr: cfg.MetricsListen, Handler: httpapi.NewMetricsHandler(mods.metrics), Log: rt.log, Limits: cfg.HTTPLimits()}
		grp.Go(func() error { return ms.Run(gctx) })
	}
	for _, run := range mods.background {
		grp.Go(func() error { return run(gctx) })
	}
	grp.Go(func() error { return rt.svc.Replay.Run(gctx) })
	rl := &reloader{g: g, cmd: cmd, log: rt.log, level: rt.level, cfg: rt.cfg, items: mods.reload}
	grp.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				rl.reload()
			}
		}
	})
	grp.Go(func() error { // a lost claim that another node took stops this one
		if err := claim.Hold(gctx); err != nil {
			return fmt.Errorf("store claim lost: %w", err)
		}
		return nil
	})
	err = grp.Wait()
	if ctx.Err() != nil && err == nil {
		rt.log.Info("stopped", slog.String("reason", "signal"))
	}
	return err
}
