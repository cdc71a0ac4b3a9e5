package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/ca/cnf"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/protocol/tpv"
)

// TestSalesRecord: the sample record is one POST /api/v1/tpv accepts.
func TestSalesRecord(t *testing.T) {
	b, err := os.ReadFile("tpv-sales-record.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tpv.ParseSalesRecord(b)
	if err != nil {
		t.Fatalf("ParseSalesRecord: %v", err)
	}
	if len(r.Products) != 1 || r.Products[0].ProgramCode != "555" {
		t.Fatalf("parsed %+v", r)
	}
}

// TestAnnexConfigurations: each annex file parses and yields a CSR
// request (subject and extensions) as `authgate csr --config` makes it.
func TestAnnexConfigurations(t *testing.T) {
	files, err := filepath.Glob("cnf/*.cnf")
	if err != nil || len(files) != 4 {
		t.Fatalf("annex files %v (%v), want 4", files, err)
	}
	opt := cnf.Options{LookupEnv: func(name string) (string, bool) {
		return map[string]string{"HOME": "/home/partner"}[name], name == "HOME"
	}}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := cnf.Parse(data, opt)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			r, err := cnf.Req(f)
			if err != nil {
				t.Fatalf("req: %v", err)
			}
			if len(r.Subject) == 0 || len(r.Extensions) == 0 || r.Bits != 2048 {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

// TestConfig: the sample configuration loads (unknown keys are errors)
// and validates as `authgate serve --config` does.
func TestConfig(t *testing.T) {
	c := config.Default()
	if err := c.LoadFile("authgate.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.TLS.SelfSigned || !c.TPV.Enabled || !c.Apstrata.Enabled || !strings.HasSuffix(c.Listen, ":8443") {
		t.Fatalf("loaded %+v", c)
	}
}
