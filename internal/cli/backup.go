package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/store/sqlite"
)

func newBackupCmd(g *globalFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent online copy of the SQLite store",
		Long: `Write a consistent copy of the SQLite store to FILE (VACUUM INTO: the database as of
one commit) while authgate serves it, check the copy with PRAGMA integrity_check, and
print what was written. FILE must not exist. The copy holds no master key: keep a copy of
the master key apart from the store's backups (docs/operations.md). PostgreSQL stores are
backed up with pg_dump; this command says how and refuses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if store.IsPostgres(cfg.DB) {
				return usageError(errors.New("authgate backup copies SQLite stores only; back up PostgreSQL with its own tools, e.g.\n" +
					"  pg_dump --format=custom --file=authgate.dump '" + redactDSN(cfg.DB) + "'\n" +
					"and restore with pg_restore --clean --if-exists --dbname=... authgate.dump (docs/operations.md); keep the master key apart"))
			}
			path, ok := store.SQLitePath(cfg.DB, cfg.DataDir)
			if !ok {
				return fmt.Errorf("db %q: not a store authgate backup knows", cfg.DB)
			}
			res, err := sqlite.Backup(cmd.Context(), path, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of %s written to %s (%d bytes, schema version %d, integrity_check ok)\n", path, res.Out, res.Bytes, res.SchemaVersion)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
