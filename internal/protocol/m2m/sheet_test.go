package m2m_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
)

// sheetConfig is a TA environment over the fixed certificates of
// testdata/sheet (their keys were thrown away: the sheet reads no key).
func sheetConfig() m2m.Config {
	c := m2m.DefaultConfig()
	c.Enabled = true
	c.TA = m2m.EnvConfig{Listen: "0.0.0.0:8443", PublicURL: "https://m2m-ta.platform.example:8443",
		TLSCert: "testdata/sheet/ta-ssl.pem", TLSKey: "unused", SigningCert: "testdata/sheet/ta-sign.pem", SigningKey: "unused",
		Partners: []m2m.PartnerConfig{{Name: "acme", SigningCerts: []string{"testdata/sheet/acme-sign.pem"},
			AdmClURL: "https://ta.sample.org/M2MAdmCl", MonClURL: "https://ta.sample.org/M2MMonCl",
			SenderID: "ACME-TA-0001", PartnerID: "4711"}},
	}
	return c
}

// TestPartnerSheetGolden: the data-exchange sheet of a TA partner, items
// A, B, E, F, J, K and the partner identifier, and what was registered
// from the partner (1, 5, 6); the API key only when just issued.
func TestPartnerSheetGolden(t *testing.T) {
	s, err := m2m.NewSheet(sheetConfig(), "ta", "acme")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "partner_sheet_ta.golden.txt", b.Bytes())

	s.APIKey = "k1lookup.s3cret"
	b.Reset()
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "partner_sheet_ta_new_key.golden.txt", b.Bytes())
}

func TestPartnerSheetRefusals(t *testing.T) {
	for _, tc := range []struct{ env, partner, want string }{
		{"PE", "acme", "m2m.pe.listen is not set"},
		{"TA", "globex", `no partner "globex"`},
		{"XX", "acme", "TA or PE"},
	} {
		if _, err := m2m.NewSheet(sheetConfig(), tc.env, tc.partner); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.env, tc.partner, err, tc.want)
		}
	}
}
