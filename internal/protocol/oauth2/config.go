package oauth2

import (
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Config is the `oauth2` section of authgate's configuration.
type Config struct {
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`  // access token lifetime (default 1h)
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"` // refresh token lifetime, at most 2 years (default 2 years, as the device server)
	// RefreshGrace is how long after a refresh token was exchanged one more
	// exchange of it is taken as a concurrent refresh (a second valid pair;
	// any further one is refused) rather than a replay (family revoked);
	// the rule is core.Tokens.ExchangeRefresh's, shared with TAAP. Default
	// 10 s: device-server clients refresh from several threads at once.
	// 0 disables the grace window.
	RefreshGrace time.Duration `yaml:"refresh_grace"`
	// TokenCacheMaxAge bounds how long a node trusts a cached access token
	// before re-reading it, i.e. how late it sees a revocation made on
	// another node. 0 disables the cache.
	TokenCacheMaxAge time.Duration `yaml:"token_cache_max_age"`
	// DeviceServerResponse is the body served for Accept:
	// application/vnd.imgtec.com.oauthtoken+json: "flat" or "wrapped".
	DeviceServerResponse string `yaml:"device_server_response"`
	MaxFormBytes         int64  `yaml:"max_form_bytes"` // token, introspection and revocation bodies
	DefaultPageSize      int    `yaml:"default_page_size"`
	MaxPageSize          int    `yaml:"max_page_size"`
}

// MaxRefreshTokenTTL is the longest refresh token lifetime accepted.
const MaxRefreshTokenTTL = 2 * 365 * 24 * time.Hour

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		AccessTokenTTL:       time.Hour,
		RefreshTokenTTL:      MaxRefreshTokenTTL,
		RefreshGrace:         10 * time.Second,
		TokenCacheMaxAge:     time.Second,
		DeviceServerResponse: "flat",
		MaxFormBytes:         16 << 10,
		DefaultPageSize:      20,
		MaxPageSize:          500,
	}
}

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	if c.AccessTokenTTL < time.Second || c.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("access_token_ttl %v: must be between 1s and 24h", c.AccessTokenTTL))
	}
	if c.RefreshTokenTTL < c.AccessTokenTTL || c.RefreshTokenTTL > MaxRefreshTokenTTL {
		errs = append(errs, fmt.Errorf("refresh_token_ttl %v: must be between access_token_ttl and 2 years (17520h)", c.RefreshTokenTTL))
	}
	if err := core.CheckRefreshGrace(c.RefreshGrace); err != nil {
		errs = append(errs, err)
	}
	if c.TokenCacheMaxAge < 0 || c.TokenCacheMaxAge > time.Minute {
		errs = append(errs, fmt.Errorf("token_cache_max_age %v: must be between 0 and 1m", c.TokenCacheMaxAge))
	}
	if c.DeviceServerResponse != "flat" && c.DeviceServerResponse != "wrapped" {
		errs = append(errs, fmt.Errorf("device_server_response %q: use flat or wrapped", c.DeviceServerResponse))
	}
	if c.MaxFormBytes < 1024 || c.MaxFormBytes > 1<<20 {
		errs = append(errs, errors.New("max_form_bytes must be between 1024 and 1048576"))
	}
	if c.DefaultPageSize < 1 || c.MaxPageSize < c.DefaultPageSize {
		errs = append(errs, errors.New("default_page_size must be at least 1 and at most max_page_size"))
	}
	return errors.Join(errs...)
}
