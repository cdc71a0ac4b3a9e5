package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/store"
)

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
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "VERSION\tSTATE\tAPPLIED AT\tMIGRATION\n")
			var current int64
			pending := 0
			for _, m := range st {
				at := "-"
				if m.State == goose.StateApplied {
					at = m.AppliedAt.UTC().Format(time.RFC3339)
					current = max(current, m.Source.Version)
				} else {
					pending++
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", m.Source.Version, m.State, at, m.Source.Path)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: schema version %d, %d pending", backend, current, pending)
			if pending > 0 {
				fmt.Fprint(cmd.OutOrStdout(), " (applied by 'authgate migrate' or the next 'authgate serve')")
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	})
	return cmd
}
