// Package cli is authgate's command line: serve, migrate, version, admin
// and the client tools of each protocol family. cmd/authgate only calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	refuseUnknownSubcommands(root)
	var ran bool
	markRun(root, &ran)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "authgate:", redactURL(err))
	return exitCode(err, ran)
}

// exitError ends the process with a specific code after the command has
// already reported the problem.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codedError is a failure reported like any other, with its own exit code.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// usageError marks err as a usage mistake: exit code exitUsage.
func usageError(err error) error { return codedError{code: exitUsage, err: err} }

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "authgate",
		Short:         "Issue and verify credentials for IoT, M2M and telecom APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints what `authgate version` prints.
	root.Version = readBuildInfo().Version
	root.SetVersionTemplate(readBuildInfo().String())
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	out := &outputFlag{}
	out.register(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		warnDeprecated(cmd)
		return out.check()
	}
	// The server's flags (--config, --data-dir, --db, ...) are on the
	// commands that open the store or read the configuration only: client
	// commands talk to a server and have none of them.
	g := &globalFlags{}
	root.AddCommand(g.server(
		newServeCmd(g),
		newMigrateCmd(g),
		newConfigCmd(g),
		newBackupCmd(g),
		newAdminCmd(g),
		newCACmd(g),
		newSubscriptionCmd(g),
		newRouteCmd(g),
		newBenchCmd(g),
	)...)
	root.AddCommand(newVersionCmd())
	// Each protocol family's commands come with its entry in the family list.
	root.AddCommand(familyCommands(g)...)
	registerCompletions(root, g)
	moveDeprecations(root)
	return root
}
