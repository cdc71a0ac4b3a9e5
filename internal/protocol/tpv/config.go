package tpv

import (
	"errors"
	"fmt"
	"time"
)

// Route names as they appear in the configuration (signature_optional).
// They are the API paths, so an operator reads them as the vendor's
// documentation writes them.
const (
	RouteTPV         = "/api/v1/tpv"
	RouteProducts    = "/api/v1/products"
	RouteDigitalSend = "/api/v1/digital/send/{code}"
	RouteQueueCall   = "/api/v1/queue/call/{code}"
	RouteTestAPI     = "/api/v1/test/api"
)

// Routes lists every route that takes an auth token (all but login).
var Routes = []string{RouteTPV, RouteProducts, RouteDigitalSend, RouteQueueCall, RouteTestAPI}

// Config is the "tpv" section of authgate's configuration.
type Config struct {
	// Enabled mounts the TPV Hub routes on the main listener.
	Enabled bool `yaml:"enabled"`
	// LoginTolerance is how far the login timestamp may be from now, either way.
	LoginTolerance time.Duration `yaml:"login_tolerance"`
	// RequestTolerance is the same window for the X-TPV-Timestamp of signed requests.
	RequestTolerance time.Duration `yaml:"request_tolerance"`
	// AuthTokenTTL is the life of an auth_token (the vendor documents 30 minutes).
	AuthTokenTTL time.Duration `yaml:"auth_token_ttl"`
	// SignatureOptional lists routes (see Routes) on which the Signature
	// header may be left out; a Signature that is sent is still verified.
	// Empty (the default): every route requires it. The vendor's own PHP
	// sample signs nothing after login, so an installation that must serve
	// it lists "/api/v1/tpv" and "/api/v1/digital/send/{code}" here.
	SignatureOptional []string `yaml:"signature_optional"`
	// MaxBodyBytes bounds request bodies on the TPV routes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Resources serves the built-in TPV resources (Routes). Off, authgate
	// keeps the login and the tpv-signature scheme, and the paths of Routes
	// are free for a gateway route to the user's own TPV API.
	Resources bool `yaml:"resources"`
}

// DefaultConfig returns the defaults: enabled, ±300 s, 30-minute tokens,
// signatures required on every route, 64 KiB bodies, the built-in
// resources served.
func DefaultConfig() Config {
	return Config{
		Enabled:          true,
		LoginTolerance:   300 * time.Second,
		RequestTolerance: 300 * time.Second,
		AuthTokenTTL:     30 * time.Minute,
		MaxBodyBytes:     64 << 10,
		Resources:        true,
	}
}

// Validate reports every problem of the section.
func (c *Config) Validate() error {
	var errs []error
	if c.LoginTolerance < time.Second || c.LoginTolerance > time.Hour {
		errs = append(errs, errors.New("login_tolerance must be between 1s and 1h"))
	}
	if c.RequestTolerance < time.Second || c.RequestTolerance > time.Hour {
		errs = append(errs, errors.New("request_tolerance must be between 1s and 1h"))
	}
	if c.AuthTokenTTL < time.Minute || c.AuthTokenTTL > 24*time.Hour {
		errs = append(errs, errors.New("auth_token_ttl must be between 1m and 24h"))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		errs = append(errs, errors.New("max_body_bytes must be between 1024 and 16777216"))
	}
	for _, r := range c.SignatureOptional {
		if !knownRoute(r) {
			errs = append(errs, fmt.Errorf("signature_optional: unknown route %q (known: %v)", r, Routes))
		}
	}
	return errors.Join(errs...)
}

func knownRoute(r string) bool {
	for _, k := range Routes {
		if k == r {
			return true
		}
	}
	return false
}

// signatureRequired reports whether route needs a Signature header.
func (c *Config) signatureRequired(route string) bool {
	for _, r := range c.SignatureOptional {
		if r == route {
			return false
		}
	}
	return true
}
