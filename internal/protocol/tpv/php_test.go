package tpv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/phptest"
)

// TestVendorPHPSample runs the vendor's own PHP example (testdata/
// vendor_sample.php: the document's code with `×tamp` mended to
// `&timestamp`) with only its token, secret and URL filled in. It logs in,
// posts the example TPV and asks for the digital delivery. The vendor's
// sample sends no Signature after login, so this installation lists its two
// routes in signature_optional.
func TestVendorPHPSample(t *testing.T) {
	php := phptest.Require(t)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"https", true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tpv.DefaultConfig()
			cfg.SignatureOptional = []string{tpv.RouteTPV, tpv.RouteDigitalSend}
			f := start(t, cfg, agtest.Options{TLS: tc.tls}) // the sample uses the wall clock (time())
			src, err := os.ReadFile("testdata/vendor_sample.php")
			if err != nil {
				t.Fatal(err)
			}
			script := strings.NewReplacer(
				`"(token here)"`, `"`+f.brand.ApplicationToken+`"`,
				`"(application secret)"`, `"`+f.brand.AppSecret+`"`,
				`"(client portal)"`, `"`+f.env.URL+`"`,
			).Replace(string(src))
			if strings.Count(script, f.env.URL) != 1 {
				t.Fatal("sample placeholders not found")
			}
			path := filepath.Join(t.TempDir(), "sample.php")
			if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, php, path).CombinedOutput()
			t.Logf("php output:\n%s", out)
			if err != nil {
				t.Fatalf("php: %v", err)
			}
			m := regexp.MustCompile(`TPV Submission Successful :: Confirmation Code is (\d{11})\n`).FindSubmatch(out)
			if m == nil {
				t.Fatal("no confirmation code in the sample's output")
			}
			code := string(m[1])
			if !regexp.MustCompile(`API Authenticated :: AUTH TOKEN IS \S+\n`).Match(out) {
				t.Fatal("sample did not authenticate")
			}
			if !strings.Contains(string(out), "DIGITAL :: Digital delivery by email requested for "+code+".") {
				t.Fatal("no digital-send success in the sample's output")
			}
			doc, err := f.env.Svc.Store.GetDocument(context.Background(), tpv.CollectionRecords, code)
			if err != nil {
				t.Fatalf("record %s not stored: %v", code, err)
			}
			if doc.OrgID != f.brand.OrgID || !strings.Contains(string(doc.Data), `"authorizing_first_name":"John"`) ||
				!strings.Contains(string(doc.Data), `"digital":{"status":"requested","requests":1`) {
				t.Fatalf("stored record: %s", doc.Data)
			}
			ev, err := f.env.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "tpv", Action: core.AuditIssue})
			if err != nil || len(ev) != 1 || ev[0].Subject != f.brand.ApplicationToken {
				t.Fatalf("login not audited: %v %v", ev, err)
			}
		})
	}
}
