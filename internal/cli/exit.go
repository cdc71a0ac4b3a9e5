package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/authgate/authgate/internal/core"
)

// Exit codes, the same for every command (docs/cli.md lists them). Admin
// commands get them from the core error kinds, client commands from the
// server's HTTP status; both are mapped here only.
const (
	exitOK          = 0
	exitFailure     = 1 // anything else: an internal error, a file that cannot be read, ...
	exitUsage       = 2 // bad flags or arguments, or input the command refuses as invalid
	exitNotFound    = 3 // the object named does not exist
	exitRefused     = 4 // authentication failed, or the caller may not do this
	exitConflict    = 5 // the object already exists, or changed meanwhile
	exitUnavailable = 6 // a dependency is down or a limit says later: retrying may succeed
)

// exitCodeOfKind maps a core error kind to its exit code.
func exitCodeOfKind(k core.Kind) int {
	switch k {
	case core.KindInvalidInput:
		return exitUsage
	case core.KindNotFound:
		return exitNotFound
	case core.KindUnauthenticated, core.KindForbidden, core.KindExpired, core.KindRevoked, core.KindReplayed, core.KindLimitExceeded:
		return exitRefused
	case core.KindConflict:
		return exitConflict
	case core.KindUnavailable, core.KindRateLimited, core.KindQuotaExceeded:
		return exitUnavailable
	}
	return exitFailure
}

// exitCodeOfStatus maps a server's HTTP status to its exit code.
func exitCodeOfStatus(status int) int {
	switch {
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge, status == http.StatusUnprocessableEntity:
		return exitUsage
	case status == http.StatusNotFound:
		return exitNotFound
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return exitRefused
	case status == http.StatusConflict:
		return exitConflict
	case status == http.StatusTooManyRequests, status >= 500:
		return exitUnavailable
	}
	return exitFailure
}

// httpStatusError is an SDK error carrying the server's answer status
// (sdk/oauth2client, sdk/pop, sdk/tpv and sdk/apstrata errors).
type httpStatusError interface {
	error
	HTTPStatus() int
}

// exitCode is the exit code of a command's error. ran reports whether the
// command's RunE started: an error before it (unknown command or flag,
// missing required flag, wrong argument count) is a usage error.
func exitCode(err error, ran bool) int {
	if err == nil {
		return exitOK
	}
	var ce codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if !ran {
		return exitUsage
	}
	var he httpStatusError
	if errors.As(err, &he) {
		return exitCodeOfStatus(he.HTTPStatus())
	}
	var de *core.Error
	if errors.As(err, &de) {
		return exitCodeOfKind(de.Kind)
	}
	// The server (or the database) could not be reached: retrying may succeed.
	var oe *net.OpError
	var ne net.Error
	if errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout()) {
		return exitUnavailable
	}
	return exitFailure
}

// markRun wraps the RunE of cmd and every command under it so that ran is
// set once a command's own code starts.
func markRun(cmd *cobra.Command, ran *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*ran = true
			return run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markRun(sub, ran)
	}
}

// refuseUnknownSubcommands makes every command group under cmd refuse an
// unknown subcommand (cobra only checks at the root and would print the
// group's help and succeed); a group alone still prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		if sub.HasSubCommands() && sub.RunE == nil && sub.Run == nil {
			sub.RunE = func(c *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageError(fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath()))
				}
				return c.Help()
			}
		}
		refuseUnknownSubcommands(sub)
	}
}

// redactURL drops the query of a URL an HTTP client error names: a signed
// request carries its signature there (TPV login), replayable until it expires.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = ""
			ue.URL = u.String() + "?..."
		}
	}
	return err
}

// deprecatedNote is the flag annotation holding a deprecated flag's advice.
const deprecatedNote = "authgate/deprecated"

// moveDeprecations takes over cobra's flag deprecation notices: cobra
// prints them on the command's output, which is stdout here, in the
// middle of the JSON or PEM a command prints. The flags stay usable and
// hidden; warnDeprecated says so on stderr.
func moveDeprecations(root *cobra.Command) {
	walkCommands(root, func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Deprecated == "" {
				return
			}
			if f.Annotations == nil {
				f.Annotations = map[string][]string{}
			}
			f.Annotations[deprecatedNote] = []string{f.Deprecated}
			f.Deprecated, f.Hidden = "", true
		})
	})
}

// warnDeprecated writes one stderr line per deprecated flag the user set.
func warnDeprecated(cmd *cobra.Command) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if note := f.Annotations[deprecatedNote]; len(note) == 1 {
			fmt.Fprintf(cmd.ErrOrStderr(), "authgate: --%s is deprecated: %s\n", f.Name, note[0])
		}
	})
}
