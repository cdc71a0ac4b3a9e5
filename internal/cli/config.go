package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate"
	"github.com/authgate/authgate/internal/config"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Print an example configuration, or check one without starting"}
	example := &cobra.Command{
		Use:   "example",
		Short: "Print a complete, commented configuration file with every key at its default",
		Long: `Print a YAML configuration file naming every section and key with its default value,
each commented from the documentation. It is generated from the definitions the server
validates, so it always loads back to the defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := config.NewKeyDocs(authgate.Docs)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(config.Example(docs))
			return err
		},
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration (file, AUTHGATE_* environment, flags) without starting",
		Long: `Load the configuration as 'authgate serve' would (defaults < --config file or
AUTHGATE_CONFIG < AUTHGATE_* environment < flags) and validate it, without opening the
store or any listener. Exit status 0 when it is valid; 2 with every problem on stderr
when it is not. Files the configuration names (certificates, keys) are not opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := g.load(cmd); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{code: exitUsage}
			}
			file := g.configFile
			if file == "" {
				file = os.Getenv("AUTHGATE_CONFIG")
			}
			if file == "" {
				file = "no file"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "configuration valid (%s)\n", file)
			return nil
		},
	}
	cmd.AddCommand(example, check)
	return cmd
}
