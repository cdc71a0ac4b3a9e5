package m2m_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/m2m"
)

func validEnv(dir, port string) m2m.EnvConfig {
	return m2m.EnvConfig{
		Listen: "127.0.0.1:" + port, TLSCert: dir + "/tls.crt", TLSKey: dir + "/tls.key",
		SigningCert: dir + "/sign.crt", SigningKey: dir + "/sign.key",
		Partners: []m2m.PartnerConfig{{Name: "acme", SigningCerts: []string{dir + "/acme.crt"},
			AdmClURL: "https://" + dir + ".sample.org/M2MAdmCl", MonClURL: "https://" + dir + ".sample.org/M2MMonCl"}},
	}
}

// TestConfigRefusesSharing: TA and PE may share no listener, key,
// certificate or partner endpoint.
func TestConfigRefusesSharing(t *testing.T) {
	base := func() m2m.Config {
		c := m2m.DefaultConfig()
		c.Enabled = true
		c.TA, c.PE = validEnv("ta", "8443"), validEnv("pe", "9443")
		return c
	}
	ok := base()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(c *m2m.Config)
	}{
		{"same listener", "listen address", func(c *m2m.Config) { c.PE.Listen = c.TA.Listen }},
		{"same TLS key", "tls_key", func(c *m2m.Config) { c.PE.TLSKey = c.TA.TLSKey }},
		{"same signing key", "signing_key", func(c *m2m.Config) { c.PE.SigningKey = "./" + c.TA.SigningKey }},
		{"same signing certificate", "signing_cert", func(c *m2m.Config) { c.PE.SigningCert = c.TA.SigningCert }},
		{"same partner certificate", "partner signing certificate", func(c *m2m.Config) { c.PE.Partners[0].SigningCerts = c.TA.Partners[0].SigningCerts }},
		{"same partner endpoint", "shares host and port", func(c *m2m.Config) { c.PE.Partners[0].AdmClURL = c.TA.Partners[0].AdmClURL }},
		{"same host and port, other path", "shares host and port", func(c *m2m.Config) { c.PE.Partners[0].MonClURL = "https://ta.sample.org:443/other" }},
		{"plain http endpoint", "https:// URL", func(c *m2m.Config) { c.TA.Partners[0].AdmClURL = "http://ta.sample.org/x" }},
		{"missing signing key", "signing_key is required", func(c *m2m.Config) { c.TA.SigningKey = "" }},
		{"partner without certificate", "signing_certs or signing_subjects", func(c *m2m.Config) { c.TA.Partners[0].SigningCerts = nil }},
		{"subjects without CA", "need ta.trusted_cas", func(c *m2m.Config) { c.TA.Partners[0].SigningSubjects = []string{"x"} }},
		{"subjects without signing CA", "need signing_ca", func(c *m2m.Config) {
			c.TA.TrustedCAs = []string{"ta/ca.pem"}
			c.TA.Partners[0].SigningSubjects = []string{"/C=DE/O=Acme/OU=M2M_TA/CN=ta.acme.example"}
		}},
		{"signing CA not trusted", "must be one of ta.trusted_cas", func(c *m2m.Config) {
			c.TA.TrustedCAs = []string{"ta/ca.pem"}
			c.TA.Partners[0].SigningSubjects = []string{"/C=DE/O=Acme/OU=M2M_TA/CN=ta.acme.example"}
			c.TA.Partners[0].SigningCA = "ta/other.pem"
		}},
		{"subject is a CN only", "exactly one OU", func(c *m2m.Config) {
			c.TA.TrustedCAs, c.TA.Partners[0].SigningCA = []string{"ta/ca.pem"}, "ta/ca.pem"
			c.TA.Partners[0].SigningSubjects = []string{"CN=ta.acme.example"}
		}},
		{"PE subject on TA", "OU, M2M_TA", func(c *m2m.Config) {
			c.TA.TrustedCAs, c.TA.Partners[0].SigningCA = []string{"ta/ca.pem"}, "ta/ca.pem"
			c.TA.Partners[0].SigningSubjects = []string{"CN=m2m.acme.example,OU=M2M,O=Acme,C=DE"}
		}},
		{"unknown subject attribute", "unknown attribute type", func(c *m2m.Config) {
			c.TA.TrustedCAs, c.TA.Partners[0].SigningCA = []string{"ta/ca.pem"}, "ta/ca.pem"
			c.TA.Partners[0].SigningSubjects = []string{"/C=DE/O=Acme/OU=M2M_TA/XX=1/CN=ta.acme.example"}
		}},
		{"CRL check interval out of range", "crl_check_interval", func(c *m2m.Config) { c.CRLCheckInterval = 0 }},
		{"TTL out of range", "timestamp_ttl", func(c *m2m.Config) { c.TimestampTTL = 0 }},
		{"environment's accepted TTL over an hour", "ta.max_timestamp_ttl must be between 10s and 1h", func(c *m2m.Config) { c.TA.MaxTimestampTTL = 2 * time.Hour }},
		{"partner's accepted TTL over an hour", "pe.partners[0].max_timestamp_ttl must be between 10s and 1h", func(c *m2m.Config) { c.PE.Partners[0].MaxTimestampTTL = 61 * time.Minute }},
		{"plain http public URL", "ta.public_url must be an https:// URL", func(c *m2m.Config) { c.TA.PublicURL = "http://m2m-ta.example" }},
		{"sender id with a space", "ta.partners[0].sender_id must be 1 to 64", func(c *m2m.Config) { c.TA.Partners[0].SenderID = "ACME TA" }},
		{"partner id shared by two partners", `partner_id "4711" is also partner acme's`, func(c *m2m.Config) {
			c.TA.Partners[0].PartnerID = "4711"
			c.TA.Partners = append(c.TA.Partners, m2m.PartnerConfig{Name: "globex", SigningCerts: []string{"ta/globex.crt"}, PartnerID: "4711"})
		}},
		{"partner's accepted TTL too short", "ta.partners[0].max_timestamp_ttl", func(c *m2m.Config) { c.TA.Partners[0].MaxTimestampTTL = time.Second }},
		{"no environment", "neither", func(c *m2m.Config) { c.TA.Listen, c.PE.Listen = "", "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
	disabled := m2m.DefaultConfig()
	if err := disabled.Validate(); err != nil {
		t.Fatalf("default (disabled) configuration: %v", err)
	}
}
