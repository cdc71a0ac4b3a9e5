package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/authgate/authgate/internal/cli.Version=...".
// When it is left at "dev", the module version recorded by the Go toolchain is shown instead.
var Version = "dev"

// Commit and BuildDate may be set the same way by builds without the
// repository's history (the Dockerfile builds with -buildvcs=false); the
// toolchain's vcs.revision and vcs.time win when present.
var Commit, BuildDate string

// buildInfo is what `authgate version` reports: the version, and the
// commit, commit time and dirty flag the Go toolchain stamps into a binary
// built from a checkout (go build -buildvcs, the default).
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`     // vcs.revision
	BuildDate string `json:"build_date"` // vcs.time: the commit's time (reproducible builds carry no wall-clock time)
	Dirty     bool   `json:"dirty"`      // vcs.modified: built from a tree with uncommitted changes
	Go        string `json:"go"`
}

func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	b := buildInfoFrom(Version, bi)
	if b.Commit == "" {
		b.Commit = Commit
	}
	if b.BuildDate == "" {
		b.BuildDate = BuildDate
	}
	return b
}

// buildInfoFrom combines the -ldflags version with the toolchain's record;
// bi may be nil (a binary built without module support).
func buildInfoFrom(ldVersion string, bi *debug.BuildInfo) buildInfo {
	out := buildInfo{Version: ldVersion}
	if bi == nil {
		return out
	}
	out.Go = bi.GoVersion
	if (out.Version == "" || out.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.time":
			out.BuildDate = s.Value
		case "vcs.modified":
			out.Dirty = s.Value == "true"
		}
	}
	return out
}

// String is the text of `authgate version` and `authgate --version`.
func (b buildInfo) String() string {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "authgate %s\n", b.Version)
	fmt.Fprintf(&sb, "  commit:     %s\n", unknown(b.Commit))
	fmt.Fprintf(&sb, "  build date: %s\n", unknown(b.BuildDate))
	fmt.Fprintf(&sb, "  dirty:      %t\n", b.Dirty)
	fmt.Fprintf(&sb, "  go:         %s\n", unknown(b.Go))
	return sb.String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and dirty flag (-o json|table: as data)",
		Long: `Print the version, commit, build date, dirty flag and Go version. Without -o
the text is the one --version prints; -o json and -o table print the same
fields through the shared printer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outputOf(cmd) == "" {
				fmt.Fprint(cmd.OutOrStdout(), readBuildInfo().String())
				return nil
			}
			return printOut(cmd, readBuildInfo())
		},
	}
}
