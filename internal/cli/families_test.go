package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/family"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// sharedSections are the configuration sections that belong to no
// family, and why. A section that is neither a family's nor listed here
// fails TestFamilyListIsComplete.
var sharedSections = map[string]string{
	"tls":           "the main listener",
	"replay":        "the replay cache every family shares",
	"auth_failures": "the failed-authentication limiter every family shares",
	"ca":            "the one CA of every family (device and M2M certificates)",
	"subscriptions": "API resources, plans and subscriptions of every family",
	"audit":         "the audit log every family writes to",
	"tracing":       "OpenTelemetry spans of every listener, store call and scheme",
	"gateway":       "the gateway and forward-auth, over every family's schemes",
	"console":       "the admin console, over the admin API of every family",
	"outbox":        "retention of the job outbox the janitor purges (M2M callbacks today)",
}

// pendingSchemes are scheme names the gateway accepts in routes
// (gateway.KnownSchemes) that no family declares yet, and why.
var pendingSchemes = map[string]string{
	"device-psk": "no HTTP request presents a PSK (DTLS keys; Go's TLS has no PSK suites): the gateway should drop the name",
}

// TestFamilyListIsComplete fails when a family is in one list but not in
// another: every family has a valid entry, a configuration section with a
// document of its own, `authgate bench` cases or the reason it has none,
// every configuration section is a family's or shared.
// (The cluster harness checks itself against the same list:
// internal/cluster TestHarnessServesEveryFamily.)
func TestFamilyListIsComplete(t *testing.T) {
	for _, err := range familyListProblems(members(), configSections()) {
		t.Error(err)
	}
}

// TestFamilyListProblemsFound: a family in one list but not another is
// reported, each omission once.
func TestFamilyListProblemsFound(t *testing.T) {
	ms := members()
	extra := ms[1]
	extra.Name, extra.Section = "sixth", "sixth" // a new family without a section
	extra.Schemes = nil
	extra.bench = benchCases{none: "nothing to measure"}
	ms[0].bench = benchCases{} // oauth2 without bench cases or a reason
	ms[2].commands = nil
	sections := configSections()
	sections["orphan"] = true // a section no family owns
	got := familyListProblems(append(ms, extra), sections)
	want := []string{
		`family oauth2: no bench cases and no reason for none`,
		`family apstrata: no commands`,
		`family sixth: no configuration section "sixth"`,
		`family sixth: section "sixth" has no document`,
		`configuration section "orphan" belongs to no family`,
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(got), len(want), got)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e error) bool { return strings.Contains(e.Error(), w) }) {
			t.Errorf("not reported: %s (got %v)", w, got)
		}
	}
}

// configSections are the top-level sections of the configuration.
func configSections() map[string]bool {
	out := map[string]bool{}
	for _, k := range config.Keys() {
		if k.Section && k.Depth == 0 {
			out[k.Path] = true
		}
	}
	return out
}

// familyListProblems checks ms against the configuration's sections and
// the declared schemes.
func familyListProblems(ms []member, sections map[string]bool) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	list := make(family.List, len(ms))
	for i, m := range ms {
		list[i] = m.Family
	}
	if err := list.Check(); err != nil {
		errs = append(errs, err)
	}
	owned := map[string]bool{}
	for _, m := range ms {
		owned[m.Section] = true
		if !sections[m.Section] {
			fail("family %s: no configuration section %q", m.Name, m.Section)
		}
		if config.SectionDocs[m.Section] == "" {
			fail("family %s: section %q has no document in config.SectionDocs", m.Name, m.Section)
		}
		if sharedSections[m.Section] != "" {
			fail("family %s: section %q is also listed as shared", m.Name, m.Section)
		}
		switch b := m.bench; {
		case b.build == nil && b.none == "":
			fail("family %s: no bench cases and no reason for none", m.Name)
		case b.build != nil && (len(b.names) == 0 || b.none != ""):
			fail("family %s: bench cases need names, and no reason for none", m.Name)
		}
		if m.commands == nil {
			fail("family %s: no commands", m.Name)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(sections)) {
		if !owned[s] && sharedSections[s] == "" {
			fail("configuration section %q belongs to no family: make it a family's Section (families.go) or list it in sharedSections with the reason", s)
		}
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.bench.names...)
	}
	if len(names) != len(slices.Compact(slices.Sorted(slices.Values(names)))) {
		fail("bench case names are not unique: %v", names)
	}
	return errs
}

// TestRootHasEveryFamilysCommands: the families' commands are the root's.
func TestRootHasEveryFamilysCommands(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	for _, m := range members() {
		for _, c := range m.commands(&globalFlags{}) {
			if found, _, err := root.Find([]string{c.Name()}); err != nil || found.Name() != c.Name() {
				t.Errorf("family %s: command %s not under the root (%v)", m.Name, c.Name(), err)
			}
		}
	}
}

// TestBuildModulesCollectsEnabledSchemes builds the server's modules as
// serve does: the scheme set holds exactly the enabled families' schemes,
// each under the name its family declares; a disabled family's schemes
// are not in it.
func TestBuildModulesCollectsEnabledSchemes(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	for _, tc := range []struct {
		name string
		set  func(*config.Config)
	}{
		{"defaults", func(*config.Config) {}},
		{"tpv and apstrata off", func(c *config.Config) { c.TPV.Enabled, c.Apstrata.Enabled = false, false }},
		{"taap off", func(c *config.Config) { c.TAAP.Enabled = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			tc.set(&cfg)
			rt := &runtime{cfg: cfg, log: slog.New(slog.DiscardHandler), svc: svc}
			m, err := buildModules(context.Background(), rt)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(Families().Enabled(&cfg).SchemeNames()))
			if got := slices.Sorted(maps.Keys(m.schemes)); !slices.Equal(got, want) {
				t.Errorf("schemes %v, want %v", got, want)
			}
		})
	}
}

// TestGatewayKnowsEveryScheme: the scheme names the gateway's route
// validation accepts are the families' declared schemes (and the pending
// ones, until their family declares them).
func TestGatewayKnowsEveryScheme(t *testing.T) {
	declared := Families().SchemeNames()
	for _, s := range declared {
		if !slices.Contains(gateway.KnownSchemes, s) {
			t.Errorf("scheme %s is declared by a family but gateway.KnownSchemes refuses it in routes", s)
		}
		if why, ok := pendingSchemes[s]; ok {
			t.Errorf("scheme %s is declared now: drop it from pendingSchemes (%s)", s, why)
		}
	}
	for _, s := range gateway.KnownSchemes {
		if !slices.Contains(declared, s) && pendingSchemes[s] == "" {
			t.Errorf("gateway.KnownSchemes has %s, which no family declares", s)
		}
	}
}
