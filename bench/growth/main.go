// Command growth measures how stored state grows under sustained load and
// whether the janitor keeps it bounded. It drives the core services (not
// HTTP) of one node on a store with an injected manual clock that advances
// one second per step, so an hour of traffic at the given rates takes as
// long as its database writes, not an hour: every second of simulated time
// it spends that second's signed-request replay keys (database mode, the
// cluster's), password grants (an access and a refresh token plus an audit
// event each, as the OAuth2 grant commits them) and failed
// authentications (an audit event each), and the janitor sweeps once a
// simulated minute, as it does by default. Expiry, purge and retention all
// follow the manual clock, so what is purged in the run is what would be
// purged in the hour. It prints rows inserted, purged and live per table,
// the live rows' steady-state bound, and table plus index sizes at the end
// (PostgreSQL pg_total_relation_size, SQLite dbstat). On PostgreSQL the
// tables are vacuumed after each sweep, standing in for autovacuum, which
// runs on wall time and would fall behind in a compressed hour.
//
// Usage: growth -db postgres://...|sqlite:PATH [-hours 1] [-signed 50] [-grants 5] [-failures 1]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/store"
)

func main() {
	db := flag.String("db", "", "postgres://... (throwaway database) or sqlite:PATH; empty: SQLite in a temporary directory")
	hours := flag.Float64("hours", 1, "simulated hours (at most 24)")
	signed := flag.Int("signed", 50, "signed requests per simulated second (one replay key each, TPV's 301 s window)")
	grants := flag.Int("grants", 5, "password grants per simulated second")
	failures := flag.Int("failures", 1, "failed authentications per simulated second")
	out := flag.String("out", "", "also write the table to this file")
	flag.Parse()
	if *hours <= 0 || *hours > 24 || *signed < 0 || *signed > 5000 || *grants < 0 || *grants > 1000 || *failures < 0 || *failures > 1000 {
		fmt.Fprintln(os.Stderr, "growth: -hours 0..24, -signed 0..5000, -grants 0..1000, -failures 0..1000")
		os.Exit(2)
	}
	if err := run(context.Background(), *db, *hours, *signed, *grants, *failures, *out); err != nil {
		fmt.Fprintln(os.Stderr, "growth:", err)
		os.Exit(1)
	}
}

// The lifetimes and windows of a default configuration.
var (
	replayWindow    = 301 * time.Second // TPV request tolerance + 1 s
	accessTTL       = oauth2.DefaultConfig().AccessTokenTTL
	refreshTTL      = oauth2.DefaultConfig().RefreshTokenTTL
	tokenRetention  = 24 * time.Hour      // janitor default
	auditRetention  = 90 * 24 * time.Hour // audit.retention default
	janitorInterval = time.Minute         // janitor default
	sampleEvery     = 10 * time.Minute    // progress lines
	tables          = []string{"replay_keys", "tokens", "audit_log"}
)

func run(ctx context.Context, dsn string, hours float64, signed, grants, failures int, outFile string) error {
	tmp, err := os.MkdirTemp("", "authgate-growth.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(tmp, "authgate.db")
	}
	st, err := store.Open(ctx, dsn, tmp)
	if err != nil {
		return err
	}
	defer st.Close()
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		return err
	}
	keys, err := core.NewKeyring(master)
	if err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(time.Second)
	clock := core.NewManualClock(start)
	svc := core.NewServices(st, keys, clock, slog.New(slog.DiscardHandler))
	if err := svc.CheckKeyring(ctx); err != nil {
		return fmt.Errorf("%w (growth needs a throwaway database)", err)
	}
	db := st.(interface{ DB() *sql.DB }).DB()
	jan := &core.Janitor{Store: st, Clock: clock, Retention: tokenRetention, AuditRetention: auditRetention}

	var inserted, purged [3]int64
	total := time.Duration(hours * float64(time.Hour))
	began := time.Now()
	fmt.Fprintf(os.Stderr, "growth: %s, %v simulated at %d signed, %d grants, %d failures per second\n", st.Dialect(), total, signed, grants, failures)
	for sim := time.Second; sim <= total; sim += time.Second {
		clock.Advance(time.Second)
		now := clock.Now()
		var wg sync.WaitGroup
		errc := make(chan error, signed+grants+failures)
		for i := range signed { // concurrent, as requests are: the replay inserts share statements
			wg.Add(1)
			go func() {
				defer wg.Done()
				errc <- svc.Replay.Remember(ctx, "tpv-sig", strconv.FormatInt(int64(sim/time.Second), 10)+"/"+strconv.Itoa(i), now.Add(replayWindow))
			}()
		}
		for range grants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, access := svc.Tokens.NewToken(core.TokenSpec{Kind: core.TokenAccess, OrgID: "org", PrincipalID: "p", TTL: accessTTL})
				_, refresh := svc.Tokens.NewToken(core.TokenSpec{Kind: core.TokenRefresh, OrgID: "org", PrincipalID: "p", FamilyID: access.FamilyID, TTL: refreshTTL})
				errc <- svc.Tokens.Commit(ctx, []core.Token{access, refresh}, []core.AuditEvent{{Action: core.AuditIssue, Protocol: "oauth2", OrgID: "org", PrincipalID: "p", Subject: "key"}})
			}()
		}
		for range failures {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errc <- svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditAuthFailure, Protocol: "tpv", Outcome: core.OutcomeFailure, Reason: "request signature mismatch", RemoteAddr: "192.0.2.1"})
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				return err
			}
		}
		inserted[0] += int64(signed)
		inserted[1] += int64(2 * grants)
		inserted[2] += int64(grants + failures)
		if sim%janitorInterval == 0 {
			r, tk, _, err := jan.Sweep(ctx)
			if err != nil {
				return err
			}
			a, err := jan.SweepAudit(ctx)
			if err != nil {
				return err
			}
			purged[0], purged[1], purged[2] = purged[0]+int64(r), purged[1]+int64(tk), purged[2]+int64(a)
			if st.Dialect() == "postgres" {
				// Autovacuum runs on wall time (a 1 min naptime), so in a
				// compressed hour it would run a few times instead of about
				// once a simulated minute, as it does at this rate (3,000
				// dead replay keys a minute pass its 50 + 20% threshold).
				// Vacuuming after each sweep stands in for it.
				if _, err := db.ExecContext(ctx, "VACUUM "+strings.Join(tables, ", ")); err != nil {
					return err
				}
			}
		}
		if sim%sampleEvery == 0 {
			live, err := counts(ctx, db)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %6v simulated (%5.1f s real): live replay keys %d, tokens %d, audit rows %d\n", sim, time.Since(began).Seconds(), live[0], live[1], live[2])
		}
	}
	live, err := counts(ctx, db)
	if err != nil {
		return err
	}
	sizes, err := tableSizes(ctx, db, st.Dialect())
	if err != nil {
		return err
	}
	w := io.Writer(os.Stdout)
	if outFile != "" {
		fh, err := os.Create(outFile)
		if err != nil {
			return err
		}
		defer fh.Close()
		w = io.MultiWriter(os.Stdout, fh)
	}
	perHour := func(n int64) float64 { return float64(n) / hours }
	bound := []string{
		fmt.Sprintf("%d x %v = %d", signed, replayWindow, int64(signed)*int64(replayWindow/time.Second)),
		fmt.Sprintf("%d x (%v + %v) access + %d x (%v + %v) refresh = %.3g", grants, accessTTL, tokenRetention, grants, refreshTTL, tokenRetention,
			float64(grants)*((accessTTL+tokenRetention).Seconds()+(refreshTTL+tokenRetention).Seconds())),
		fmt.Sprintf("%d x audit.retention %v = %.3g", grants+failures, auditRetention, float64(grants+failures)*auditRetention.Seconds()),
	}
	fmt.Fprintf(w, "backend: %s; %v simulated in %.0f s at %d signed requests, %d password grants, %d failed authentications per second; janitor every %v\n\n",
		st.Dialect(), total, time.Since(began).Seconds(), signed, grants, failures, janitorInterval)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tinserted/h\tpurged/h\tlive at end\tsize at end (table+indexes)\tbytes/live row\tsteady-state live rows (rate x lifetime)\t")
	for i, t := range tables {
		per := "-"
		if live[i] > 0 {
			per = strconv.FormatInt(sizes[i]/live[i], 10)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%d\t%s\t%s\t%s\t\n", t, perHour(inserted[i]), perHour(purged[i]), live[i], humanBytes(sizes[i]), per, bound[i])
	}
	return tw.Flush()
}

func counts(ctx context.Context, db *sql.DB) ([3]int64, error) {
	var out [3]int64
	for i, t := range tables {
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&out[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// tableSizes is each table's bytes with its indexes.
func tableSizes(ctx context.Context, db *sql.DB, dialect string) ([3]int64, error) {
	var out [3]int64
	if dialect == "postgres" {
		if _, err := db.ExecContext(ctx, "VACUUM "+strings.Join(tables, ", ")); err != nil {
			return out, err
		}
		for i, t := range tables {
			if err := db.QueryRowContext(ctx, "SELECT pg_total_relation_size($1)", t).Scan(&out[i]); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	for i, t := range tables {
		// dbstat: pages of the table and of every index on it.
		err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name=? OR name IN (SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?)`, t, t).Scan(&out[i])
		if err != nil {
			return out, fmt.Errorf("dbstat: %w", err)
		}
	}
	return out, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
