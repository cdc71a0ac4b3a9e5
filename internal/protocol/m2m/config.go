package m2m

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Environment names. TA is test-and-approval, PE production.
const (
	EnvTA = "TA"
	EnvPE = "PE"
)

// Config is the "m2m" section of authgate's configuration. Each environment
// has its own listener, TLS certificate, WS-Security signing key and
// certificate, trust anchors and partners; Validate refuses to share any
// of them between TA and PE, as the M2M setup document requires.
type Config struct {
	// Enabled starts the TA and PE listeners (each only if its listen is set).
	Enabled bool      `yaml:"enabled"`
	TA      EnvConfig `yaml:"ta"`
	PE      EnvConfig `yaml:"pe"`
	// TimestampTTL is the lifetime authgate gives its own Timestamps (the
	// document prescribes 300 s). It is also the longest lifetime accepted
	// where neither the partner nor its environment sets max_timestamp_ttl.
	TimestampTTL time.Duration `yaml:"timestamp_ttl"`
	// ClockSkew is tolerated on Created/Expires.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// AllowRSASHA1 accepts rsa-sha1 signatures and sha1 digests on verify.
	AllowRSASHA1 bool `yaml:"allow_rsa_sha1"`
	// MaxMessageBytes bounds SOAP messages in and out.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// CallbackTimeout bounds one call to a partner's M2MAdmCl/M2MMonCl.
	CallbackTimeout time.Duration `yaml:"callback_timeout"`
	// RetryDelay is how long the one re-send waits after a failed callback.
	RetryDelay time.Duration `yaml:"retry_delay"`
	// PollInterval is how often the outbox worker looks for due jobs.
	PollInterval time.Duration `yaml:"poll_interval"`
	// CRLCheckInterval is how often, at most, the environments' crl_files
	// are looked at for changes (modification time and size), on use.
	CRLCheckInterval time.Duration `yaml:"crl_check_interval"`
}

// EnvConfig is one environment (TA or PE).
type EnvConfig struct {
	// Listen is host:port of the environment's HTTPS listener ("" disables it).
	Listen string `yaml:"listen"`
	// PublicURL is the listener's base URL as partners reach it (items
	// E-H of the partner sheet: PublicURL + /M2MAdm, /M2MMon); default
	// https://<listen>.
	PublicURL string `yaml:"public_url"`
	// TLSCert/TLSKey are the SSL server certificate and key (items A/C of the document).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// SigningCert/SigningKey sign every message authgate sends (items B/D).
	SigningCert string `yaml:"signing_cert"`
	SigningKey  string `yaml:"signing_key"`
	// TrustedCAs are PEM files of CAs that issue partners' signing
	// certificates; for authgate's own CA, the environment's issuing CA
	// (`authgate ca cacert --ca m2m-ta`). Never shared with the other
	// environment.
	TrustedCAs []string `yaml:"trusted_cas"`
	// CRLFiles are CRLs (PEM or DER) of the trusted CAs: a signing
	// certificate they list is refused. Re-read when they change.
	CRLFiles []string `yaml:"crl_files"`
	// CallbackCAs are PEM files of CAs trusted for partners' SSL server
	// certificates (default: the system roots).
	CallbackCAs []string `yaml:"callback_cas"`
	// MaxTimestampTTL is the longest Timestamp lifetime accepted from this
	// environment's partners that set none of their own (0: timestamp_ttl).
	// It never changes the lifetime authgate writes.
	MaxTimestampTTL time.Duration `yaml:"max_timestamp_ttl"`
	// Partners of this environment.
	Partners []PartnerConfig `yaml:"partners"`
}

// PartnerConfig is one partner in one environment.
type PartnerConfig struct {
	// Name identifies the partner (the same name in TA and PE is the same partner).
	Name string `yaml:"name"`
	// SigningCerts are the partner's signing certificates (items 1/3),
	// pinned: requests and acknowledgments must be signed with one of them.
	SigningCerts []string `yaml:"signing_certs"`
	// SigningSubjects are whole certificate subjects accepted for this
	// partner when the certificate chains to a trusted CA instead of being
	// pinned, as "/C=DE/O=Org/OU=M2M_TA/CN=host" or RFC 4514
	// "CN=host,OU=M2M_TA,O=Org,C=DE"; matched attribute for attribute.
	SigningSubjects []string `yaml:"signing_subjects"`
	// SigningCA is the PEM file of the CA that must have issued the
	// certificate of a SigningSubjects match; one of the trusted_cas.
	SigningCA string `yaml:"signing_ca"`
	// AdmClURL and MonClURL are the partner's M2MAdmCl and M2MMonCl endpoints (items 5-8).
	AdmClURL string `yaml:"adm_cl_url"`
	MonClURL string `yaml:"mon_cl_url"`
	// MaxTimestampTTL is the longest Timestamp lifetime accepted from this
	// partner (0: the environment's max_timestamp_ttl). node-soap, for one,
	// always writes 10 minutes.
	MaxTimestampTTL time.Duration `yaml:"max_timestamp_ttl"`
	// SenderID is the partner's API sender identifier, the SOA-BP sender
	// ID (item K of the setup document); PartnerID its M2M partner
	// identifier. Both are on the partner sheet; a request carrying
	// SenderId or PartnerId must carry these.
	SenderID  string `yaml:"sender_id"`
	PartnerID string `yaml:"partner_id"`
}

// DefaultConfig returns the defaults: disabled, 300 s timestamps, 60 s skew.
func DefaultConfig() Config {
	return Config{
		TimestampTTL:    300 * time.Second,
		ClockSkew:       60 * time.Second,
		MaxMessageBytes: 256 << 10,
		CallbackTimeout: 20 * time.Second,
		RetryDelay:      60 * time.Second,
		PollInterval:    time.Second,

		CRLCheckInterval: 30 * time.Second,
	}
}

// Envs returns the configured environments by name.
func (c *Config) Envs() map[string]*EnvConfig {
	return map[string]*EnvConfig{EnvTA: &c.TA, EnvPE: &c.PE}
}

// Partner is the configuration of partner name in environment env (TA or
// PE): not_found when the environment lists no such partner, so that
// set-up commands never provision one the listeners would not serve.
func (c *Config) Partner(env, name string) (PartnerConfig, error) {
	ec, ok := c.Envs()[strings.ToUpper(env)]
	if !ok {
		return PartnerConfig{}, core.E(core.KindInvalidInput, "environment must be TA or PE")
	}
	for _, p := range ec.Partners {
		if p.Name == name {
			return p, nil
		}
	}
	return PartnerConfig{}, core.E(core.KindNotFound, fmt.Sprintf("no partner %q in m2m.%s.partners", name, strings.ToLower(env)))
}

// Validate reports every problem of the section.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.TimestampTTL < 10*time.Second || c.TimestampTTL > time.Hour {
		add("timestamp_ttl must be between 10s and 1h")
	}
	for _, name := range []string{EnvTA, EnvPE} {
		e := c.Envs()[name]
		p := strings.ToLower(name) + "."
		if !acceptableTTL(e.MaxTimestampTTL) {
			add("%smax_timestamp_ttl must be between 10s and 1h", p)
		}
		for i, pc := range e.Partners {
			if !acceptableTTL(pc.MaxTimestampTTL) {
				add("%spartners[%d].max_timestamp_ttl must be between 10s and 1h", p, i)
			}
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > 10*time.Minute {
		add("clock_skew must be between 0 and 10m")
	}
	if c.MaxMessageBytes < 4096 || c.MaxMessageBytes > 16<<20 {
		add("max_message_bytes must be between 4096 and 16777216")
	}
	if c.CallbackTimeout < time.Second || c.CallbackTimeout > 5*time.Minute {
		add("callback_timeout must be between 1s and 5m")
	}
	if c.RetryDelay < 0 || c.RetryDelay > 24*time.Hour {
		add("retry_delay must be between 0 and 24h")
	}
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Minute {
		add("poll_interval must be between 10ms and 1m")
	}
	if c.CRLCheckInterval < time.Second || c.CRLCheckInterval > time.Hour {
		add("crl_check_interval must be between 1s and 1h")
	}
	if !c.Enabled {
		return errors.Join(errs...)
	}
	active := 0
	for _, name := range []string{EnvTA, EnvPE} {
		e := c.Envs()[name]
		if e.Listen == "" {
			continue
		}
		active++
		p := strings.ToLower(name) + "."
		if _, _, err := net.SplitHostPort(e.Listen); err != nil {
			add("%slisten %q: must be host:port", p, e.Listen)
		}
		if e.PublicURL != "" {
			if u, err := url.Parse(e.PublicURL); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				add("%spublic_url must be an https:// URL without query", p)
			}
		}
		for k, v := range map[string]string{"tls_cert": e.TLSCert, "tls_key": e.TLSKey, "signing_cert": e.SigningCert, "signing_key": e.SigningKey} {
			if v == "" {
				add("%s%s is required", p, k)
			}
		}
		seen := map[string]bool{}
		ids := map[string]string{}
		for i, pc := range e.Partners {
			for k, v := range map[string]string{"sender_id": pc.SenderID, "partner_id": pc.PartnerID} {
				if v == "" {
					continue
				}
				if !identifierRE.MatchString(v) {
					add("%spartners[%d].%s must be 1 to 64 letters, digits or . _ : -", p, i, k)
				}
				if other, ok := ids[k+"="+v]; ok {
					add("%spartners[%d].%s %q is also partner %s's", p, i, k, v, other)
				}
				ids[k+"="+v] = pc.Name
			}
			if pc.Name == "" || len(pc.Name) > 100 {
				add("%spartners[%d]: name must be 1 to 100 characters", p, i)
			}
			if seen[pc.Name] {
				add("%spartners: %q listed twice", p, pc.Name)
			}
			seen[pc.Name] = true
			if len(pc.SigningCerts) == 0 && len(pc.SigningSubjects) == 0 {
				add("%spartners[%s]: signing_certs or signing_subjects is required", p, pc.Name)
			}
			if len(pc.SigningSubjects) > 0 && len(e.TrustedCAs) == 0 {
				add("%spartners[%s]: signing_subjects need %strusted_cas", p, pc.Name, p)
			}
			if len(pc.SigningSubjects) > 0 && pc.SigningCA == "" {
				add("%spartners[%s]: signing_subjects need signing_ca, the CA that issues the partner's certificate", p, pc.Name)
			}
			if pc.SigningCA != "" && !slices.ContainsFunc(e.TrustedCAs, func(f string) bool { return filepath.Clean(f) == filepath.Clean(pc.SigningCA) }) {
				add("%spartners[%s]: signing_ca %s must be one of %strusted_cas", p, pc.Name, pc.SigningCA, p)
			}
			for _, subj := range pc.SigningSubjects {
				attrs, err := parseDN(subj)
				if err != nil {
					add("%spartners[%s]: signing_subjects: %v", p, pc.Name, err)
					continue
				}
				if ou := values(attrs, oidOU); len(ou) != 1 || ou[0] != envOU(name) {
					add("%spartners[%s]: signing_subjects %q: a %s subject must have exactly one OU, %s", p, pc.Name, subj, name, envOU(name))
				}
				for _, t := range []string{"cn", "o"} {
					if len(values(attrs, dnTypes[t])) != 1 {
						add("%spartners[%s]: signing_subjects %q must have exactly one %s", p, pc.Name, subj, strings.ToUpper(t))
					}
				}
			}
			for k, v := range map[string]string{"adm_cl_url": pc.AdmClURL, "mon_cl_url": pc.MonClURL} {
				if v == "" {
					continue
				}
				if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
					add("%spartners[%s].%s must be an https:// URL", p, pc.Name, k)
				}
			}
		}
	}
	if active == 0 {
		add("enabled, but neither ta.listen nor pe.listen is set")
	}
	if c.TA.Listen != "" && c.PE.Listen != "" {
		errs = append(errs, c.checkSeparation()...)
	}
	return errors.Join(errs...)
}

// identifierRE is what a sender_id or partner_id may be.
var identifierRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// acceptableTTL bounds a max_timestamp_ttl (0 is unset): an hour at most,
// so a captured message cannot be replayed elsewhere for long and the
// replay cache stays bounded.
func acceptableTTL(d time.Duration) bool {
	return d == 0 || d >= 10*time.Second && d <= MaxAcceptedTTL
}

// MaxAcceptedTTL is the upper bound of every max_timestamp_ttl.
const MaxAcceptedTTL = time.Hour

// checkSeparation refuses anything TA and PE would share: listener
// address, TLS and signing material, and partner endpoints and
// certificates. Files are compared by cleaned path here; Load compares
// their contents (certificate and key fingerprints) as well.
func (c *Config) checkSeparation() []error {
	var errs []error
	same := func(a, b, what string) {
		if a != "" && b != "" && a == b {
			errs = append(errs, fmt.Errorf("ta and pe must not share %s (%s)", what, a))
		}
	}
	same(c.TA.Listen, c.PE.Listen, "the listen address")
	files := func(e *EnvConfig) map[string]string {
		m := map[string]string{}
		put := func(path, what string) {
			if path != "" {
				m[filepath.Clean(path)] = what
			}
		}
		put(e.TLSCert, "tls_cert")
		put(e.TLSKey, "tls_key")
		put(e.SigningCert, "signing_cert")
		put(e.SigningKey, "signing_key")
		for _, f := range e.TrustedCAs {
			put(f, "trusted_cas")
		}
		for _, p := range e.Partners {
			for _, f := range p.SigningCerts {
				put(f, "partner signing certificate")
			}
		}
		return m
	}
	pe := files(&c.PE)
	for path, what := range files(&c.TA) {
		if other, ok := pe[path]; ok {
			errs = append(errs, fmt.Errorf("ta %s and pe %s are the same file %s: keys and certificates must not be shared", what, other, path))
		}
	}
	// The document: TA and PE endpoints "MUST vary in at least one of hostname or network port".
	taEndpoints := map[string]bool{}
	for _, p := range c.TA.Partners {
		for _, u := range []string{p.AdmClURL, p.MonClURL} {
			if hp := hostPort(u); hp != "" {
				taEndpoints[hp] = true
			}
		}
	}
	for _, p := range c.PE.Partners {
		for _, u := range []string{p.AdmClURL, p.MonClURL} {
			if hp := hostPort(u); hp != "" && taEndpoints[hp] {
				errs = append(errs, fmt.Errorf("partner %s: endpoint %s shares host and port with a ta endpoint", p.Name, u))
			}
		}
	}
	return errs
}

func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}
