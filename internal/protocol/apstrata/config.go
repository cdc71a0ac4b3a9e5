package apstrata

import (
	"errors"
	"time"
)

// Config is the "apstrata" section of authgate's configuration.
type Config struct {
	// Enabled mounts /apsdb/rest on the main listener.
	Enabled bool `yaml:"enabled"`
	// TimeWindow is how far apsws.time may be from now, either way.
	TimeWindow time.Duration `yaml:"time_window"`
	// ServiceURLs are the service URLs clients sign with
	// (e.g. https://api.example.com/apsdb/rest), for deployments behind a
	// proxy that rewrites the host; the URL of the request itself is always tried.
	ServiceURLs []string `yaml:"service_urls"`
	// Token defaults and maxima, in the document's units (seconds).
	DefaultTokenExpires  time.Duration `yaml:"default_token_expires"`
	MaxTokenExpires      time.Duration `yaml:"max_token_expires"`
	DefaultTokenLifetime time.Duration `yaml:"default_token_lifetime"`
	MaxTokenLifetime     time.Duration `yaml:"max_token_lifetime"`
	// TokenLimit is the most live tokens one user or device may hold.
	TokenLimit int `yaml:"token_limit"`
	// EnforceBindReferrer refuses apsdb.bindReferrer=false for user tokens.
	EnforceBindReferrer bool `yaml:"enforce_bind_referrer"`
	// RenewOverlap is how long a renewed token stays valid beside its successor.
	RenewOverlap time.Duration `yaml:"renew_overlap"`
	// MaxBodyBytes bounds form bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// DefaultConfig returns the document's defaults.
func DefaultConfig() Config {
	return Config{
		Enabled:              true,
		TimeWindow:           5 * time.Minute,
		DefaultTokenExpires:  1800 * time.Second,
		MaxTokenExpires:      86400 * time.Second,
		DefaultTokenLifetime: 7200 * time.Second,
		MaxTokenLifetime:     604800 * time.Second,
		TokenLimit:           100,
		RenewOverlap:         5 * time.Second,
		MaxBodyBytes:         64 << 10,
	}
}

// Validate reports every problem of the section.
func (c *Config) Validate() error {
	var errs []error
	if c.TimeWindow < time.Second || c.TimeWindow > 24*time.Hour {
		errs = append(errs, errors.New("time_window must be between 1s and 24h"))
	}
	if c.MaxTokenExpires <= 0 || c.MaxTokenLifetime <= 0 || c.MaxTokenExpires > c.MaxTokenLifetime {
		errs = append(errs, errors.New("max_token_expires and max_token_lifetime must be positive, expires <= lifetime"))
	}
	if c.DefaultTokenExpires <= 0 || c.DefaultTokenExpires > c.MaxTokenExpires {
		errs = append(errs, errors.New("default_token_expires must be positive and at most max_token_expires"))
	}
	if c.DefaultTokenLifetime < c.DefaultTokenExpires || c.DefaultTokenLifetime > c.MaxTokenLifetime {
		errs = append(errs, errors.New("default_token_lifetime must be between default_token_expires and max_token_lifetime"))
	}
	if c.TokenLimit < 1 {
		errs = append(errs, errors.New("token_limit must be at least 1"))
	}
	if c.RenewOverlap < 0 || c.RenewOverlap > time.Minute {
		errs = append(errs, errors.New("renew_overlap must be between 0 and 1m"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max_body_bytes must be at least 1024"))
	}
	return errors.Join(errs...)
}
