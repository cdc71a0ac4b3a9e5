package cli

import (
	"fmt"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/store"
)

// migrationStatus is what `migrate status` prints: each migration, and
// the schema version (the highest applied) with the count still pending.
type migrationStatus struct {
	Backend       string         `json:"backend"`
	SchemaVersion int64          `json:"schema_version"`
	Pending       int            `json:"pending"`
	Items         []migrationRow `json:"items"`
}

type migrationRow struct {
	Version   int64      `json:"version"`
	State     string     `json:"state"` // applied or pending
	AppliedAt *time.Time `json:"applied_at"`
	Migration string     `json:"migration"`
}

func newMigrateCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Long: `Apply every pending database migration and exit ('serve' does the same at start;
on PostgreSQL a lock keeps nodes starting together from migrating twice).
'authgate migrate status' lists the migrations without applying any.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := openRuntime(cmd.Context(), g, cmd) // opening migrates
			if err != nil {
				return err
			}
			defer rt.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied (%s)\n", rt.svc.Store.Dialect())
			return nil
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "List each migration as applied (with its time) or pending, applying nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			backend, st, err := store.MigrationStatus(cmd.Context(), cfg.DB, cfg.DataDir)
			if err != nil {
				return err
			}
			out := migrationStatus{Backend: backend, Items: make([]migrationRow, 0, len(st))}
			for _, m := range st {
				row := migrationRow{Version: m.Source.Version, State: string(m.State), Migration: m.Source.Path}
				if m.State == goose.StateApplied {
					at := m.AppliedAt.UTC()
					row.AppliedAt = &at
					out.SchemaVersion = max(out.SchemaVersion, m.Source.Version)
				} else {
					out.Pending++
				}
				out.Items = append(out.Items, row)
			}
			if err := printOutTable(cmd, out); err != nil {
				return err
			}
			if outputOf(cmd) != outputJSON { // the table shows the rows: the summary follows them
				fmt.Fprintf(cmd.OutOrStdout(), "%s: schema version %d, %d pending", backend, out.SchemaVersion, out.Pending)
				if out.Pending > 0 {
					fmt.Fprint(cmd.OutOrStdout(), " (applied by 'authgate migrate' or the next 'authgate serve')")
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return nil
		},
	})
	return cmd
}
