package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfoFrom(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/authgate/authgate", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name string
		ld   string
		bi   *debug.BuildInfo
		want buildInfo
	}{
		{"ldflags win", "v2.0.0-rc1", stamped, buildInfo{Version: "v2.0.0-rc1", Commit: "0123abcd", BuildDate: "2026-12-01T10:00:00Z", Dirty: true, Go: "go1.26.0"}},
		{"module version when ldflags unset", "dev", stamped, buildInfo{Version: "v1.4.0", Commit: "0123abcd", BuildDate: "2026-12-01T10:00:00Z", Dirty: true, Go: "go1.26.0"}},
		{"devel build", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "false"}}}, buildInfo{Version: "dev", Go: "go1.26.0"}},
		{"no build info", "dev", nil, buildInfo{Version: "dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildInfoFrom(tc.ld, tc.bi); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	s := buildInfoFrom("dev", nil).String()
	for _, want := range []string{"authgate dev\n", "commit:     unknown", "build date: unknown", "dirty:      false"} {
		if !strings.Contains(s, want) {
			t.Errorf("version text lacks %q:\n%s", want, s)
		}
	}
}

// TestVersionCommandAndFlag: `authgate version` and `authgate --version`
// print the same text, taken from the running binary's build info.
func TestVersionCommandAndFlag(t *testing.T) {
	run := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := Main(args, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	cmd, flag := run("version"), run("--version")
	if cmd != flag || cmd != readBuildInfo().String() {
		t.Fatalf("version %q, --version %q", cmd, flag)
	}
	if !strings.HasPrefix(cmd, "authgate ") || !strings.Contains(cmd, "go:         go1.") {
		t.Fatalf("version output: %q", cmd)
	}
}

// TestVersionOutputFormats: -o json and -o table print the build info's
// fields, snake_case, through the shared printer.
func TestVersionOutputFormats(t *testing.T) {
	code, out, stderr := runCLIExit(t, "version", "-o", "json")
	var got buildInfo
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got != readBuildInfo() {
		t.Fatalf("version -o json: exit %d %v %s\n%s", code, err, stderr, out)
	}
	checkSnakeKeys(t, "version -o json", out)
	if !strings.Contains(out, `"build_date"`) {
		t.Errorf("no build_date key:\n%s", out)
	}
	code, out, _ = runCLIExit(t, "version", "-o", "table")
	if code != 0 || !strings.HasPrefix(out, "KEY") || !regexp.MustCompile(`(?m)^version\s+\S+$`).MatchString(out) {
		t.Fatalf("version -o table: exit %d\n%s", code, out)
	}
}
