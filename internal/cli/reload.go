package cli

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/httpapi"
)

// reloadableKeys are the configuration keys a reload (SIGHUP) applies to
// the running server. Every other key is read once at start: a reload
// that finds one changed names it in its log line as needing a restart.
// Certificates, keys and CRL files named by the configuration are re-read
// from the same paths (the Reloadables); a changed path is a changed key.
var reloadableKeys = []string{"log_level"}

// restartNote is what the reload log line says is never reloaded.
const restartNote = "every configuration key but log_level (listeners, store, master key, families, limits, tokens, M2M signing keys, trusted CAs and partners) needs a restart"

// reloader re-reads what a running server can take without a restart.
type reloader struct {
	g     *globalFlags
	cmd   *cobra.Command
	log   *slog.Logger
	level *slog.LevelVar
	cfg   config.Config // the configuration in force
	items []httpapi.Reloadable
}

// reload re-reads every Reloadable (each keeps its previous material when
// the new one fails), then the configuration: when it validates, the
// reloadable keys that changed are applied and the others are listed as
// needing a restart; when it does not, nothing of it is applied. One log
// line says what happened; failures get their own error lines.
func (r *reloader) reload() (reloaded, failed, applied, restart []string) {
	for _, it := range r.items {
		if err := it.Reload(); err != nil {
			r.log.Error("reload failed, the previous material stays in force", slog.String("what", it.Name), slog.Any("err", err))
			failed = append(failed, it.Name)
			continue
		}
		reloaded = append(reloaded, it.Name)
	}
	next, err := r.g.load(r.cmd)
	if err != nil {
		r.log.Error("reload: the configuration does not load or validate; none of it is applied", slog.Any("err", err))
		failed = append(failed, "configuration")
	} else {
		for _, k := range config.Changed(r.cfg, next) {
			if slices.Contains(reloadableKeys, k) {
				applied = append(applied, k)
			} else {
				restart = append(restart, k)
			}
		}
		if slices.Contains(applied, "log_level") {
			r.level.Set(parseLevel(next.LogLevel))
			r.cfg.LogLevel = next.LogLevel
		}
	}
	lvl := slog.LevelInfo
	if len(failed) > 0 || len(restart) > 0 {
		lvl = slog.LevelWarn
	}
	r.log.Log(r.cmd.Context(), lvl, "reloaded",
		slog.String("reloaded", joinOrNone(reloaded)), slog.String("failed", joinOrNone(failed)),
		slog.String("applied", joinOrNone(applied)), slog.String("changed_need_restart", joinOrNone(restart)),
		slog.String("restart_needed_for", restartNote))
	return reloaded, failed, applied, restart
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
