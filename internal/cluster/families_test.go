package cluster

import (
	"testing"

	"github.com/authgate/authgate/internal/cli"
)

// TestHarnessServesEveryFamily fails when a family is added to the family
// list but the cluster harness neither serves it nor says why not.
func TestHarnessServesEveryFamily(t *testing.T) {
	cfg := harnessConfig()
	families := cli.Families()
	for _, f := range families {
		on, why := f.Enabled(&cfg), harnessOff[f.Name]
		switch {
		case on && why != "":
			t.Errorf("family %s is served by startNode but listed in harnessOff (%s)", f.Name, why)
		case !on && why == "":
			t.Errorf("family %s is not served by startNode: enable it in harnessConfig or say why in harnessOff", f.Name)
		}
	}
	for name := range harnessOff {
		if _, ok := families.Lookup(name); !ok {
			t.Errorf("harnessOff names %s, which is not in the family list", name)
		}
	}
}
