package taap

import (
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Config is the "taap" section of authgate's configuration.
type Config struct {
	// Enabled mounts the TAAP routes on the main listener.
	Enabled bool `yaml:"enabled"`
	// Algorithms is the PoP signature allow-list: RS256, RS384, RS512,
	// PS256, PS384, PS512. none and HMAC can never be listed.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is tolerated on iat and exp (T-Mobile's validator: 10 s).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// MaxLifetime is the largest exp - iat accepted. The TAAP documents
	// say 60 s, the reference builders emit 120 s.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// TokenEndpointParts and ResourceParts are the ehts parts each route
	// requires. Authorization is added whenever the request has one, and
	// body whenever the body is not empty.
	TokenEndpointParts []string `yaml:"token_endpoint_parts"`
	ResourceParts      []string `yaml:"resource_parts"`
	// GatewayParts are the parts the taap-pop scheme requires on gateway
	// and forward-auth routes (the same additions apply). body is not
	// required by default so that a front end that does not forward
	// bodies (nginx auth_request) can check requests without one.
	GatewayParts []string `yaml:"gateway_parts"`
	// DebugCanonical adds the server's canonical string (Authorization
	// redacted) to edts mismatch answers. For development only.
	DebugCanonical bool `yaml:"debug_canonical"`
	// AccessTokenTTL, RefreshTokenTTL and IDTokenTTL are the lives of what
	// the token endpoint issues.
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	IDTokenTTL      time.Duration `yaml:"id_token_ttl"`
	// RefreshGrace is how long after a refresh token was exchanged one more
	// exchange of it is a concurrent retry (a second pair) rather than
	// reuse (family revoked); the rule is core.Tokens.ExchangeRefresh's.
	// 0 (the default: TAAP clients refresh one at a time) allows one
	// exchange per token.
	RefreshGrace time.Duration `yaml:"refresh_grace"`
	// IDTokenAlg signs ID tokens: ES256 (fast, the default) or RS256.
	IDTokenAlg string `yaml:"id_token_alg"`
	// KeyRotation is how long one ID-token signing key is used. Retired
	// keys stay in the JWKS until the tokens they signed have expired.
	KeyRotation time.Duration `yaml:"key_rotation"`
	// Issuer is the iss of ID tokens; "" derives it from the request.
	Issuer string `yaml:"issuer"`
	// ClientCacheTTL bounds how long a node trusts a cached client key
	// set, i.e. how late it sees a key registered or revoked elsewhere.
	ClientCacheTTL time.Duration `yaml:"client_cache_ttl"`
	// MaxBodyBytes bounds the bodies of PoP-protected requests, which the
	// verifier must read whole to hash.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ResourceScope is the scope an access token needs for the
	// connectivity resource (403 insufficient_scope otherwise); clients
	// registered without a scope are granted it.
	ResourceScope string `yaml:"resource_scope"`
	// Pages serves the PoP builder and verifier web pages and the
	// explanation endpoint behind the verifier page.
	Pages bool `yaml:"pages"`
}

// DefaultConfig returns the defaults: RS256 only, 10 s skew, 120 s
// lifetime, one-hour access and ID tokens, 24-hour refresh tokens, ES256
// ID tokens with keys rotated daily.
func DefaultConfig() Config {
	return Config{
		Enabled:            true,
		Algorithms:         []string{"RS256"},
		ClockSkew:          10 * time.Second,
		MaxLifetime:        120 * time.Second,
		TokenEndpointParts: []string{PartURI, PartMethod},
		ResourceParts:      []string{PartURI, PartMethod, PartBody},
		GatewayParts:       []string{PartURI, PartMethod},
		AccessTokenTTL:     time.Hour,
		RefreshTokenTTL:    24 * time.Hour,
		IDTokenTTL:         time.Hour,
		IDTokenAlg:         "ES256",
		KeyRotation:        24 * time.Hour,
		ClientCacheTTL:     time.Second,
		MaxBodyBytes:       1 << 20,
		Pages:              true,
		ResourceScope:      DefaultResourceScope,
	}
}

// Validate reports every problem of the section.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Algorithms) == 0 {
		errs = append(errs, errors.New("algorithms must list at least one of RS256, RS384, RS512, PS256, PS384, PS512"))
	}
	for _, a := range c.Algorithms {
		if _, ok := rsaAlgs[a]; !ok {
			errs = append(errs, fmt.Errorf("algorithms: %q is not allowed (RSA algorithms only; never none or HMAC)", a))
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute {
		errs = append(errs, errors.New("clock_skew must be between 0 and 5m"))
	}
	if c.MaxLifetime < time.Second || c.MaxLifetime > 10*time.Minute {
		errs = append(errs, errors.New("max_lifetime must be between 1s and 10m"))
	}
	check := func(name string, parts []string, need ...string) {
		for _, p := range parts {
			if p == "" || !headerName(p) {
				errs = append(errs, fmt.Errorf("%s: %q is not a part name", name, p))
			}
		}
		for _, n := range need {
			if !containsPart(parts, n) {
				errs = append(errs, fmt.Errorf("%s must include %q", name, n))
			}
		}
	}
	check("token_endpoint_parts", c.TokenEndpointParts, PartURI, PartMethod)
	check("resource_parts", c.ResourceParts, PartURI, PartMethod, PartBody)
	check("gateway_parts", c.GatewayParts, PartURI, PartMethod)
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, errors.New("access_token_ttl must be between 1m and 24h"))
	}
	if err := core.CheckRefreshGrace(c.RefreshGrace); err != nil {
		errs = append(errs, err)
	}
	if c.RefreshTokenTTL < c.AccessTokenTTL || c.RefreshTokenTTL > 365*24*time.Hour {
		errs = append(errs, errors.New("refresh_token_ttl must be between access_token_ttl and 8760h"))
	}
	if c.IDTokenTTL < time.Minute || c.IDTokenTTL > 24*time.Hour {
		errs = append(errs, errors.New("id_token_ttl must be between 1m and 24h"))
	}
	if c.IDTokenAlg != "ES256" && c.IDTokenAlg != "RS256" {
		errs = append(errs, fmt.Errorf("id_token_alg %q: use ES256 or RS256", c.IDTokenAlg))
	}
	if c.KeyRotation < time.Minute || c.KeyRotation > 365*24*time.Hour {
		errs = append(errs, errors.New("key_rotation must be between 1m and 8760h"))
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > 5*time.Minute {
		errs = append(errs, errors.New("client_cache_ttl must be between 0 and 5m"))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		errs = append(errs, errors.New("max_body_bytes must be between 1024 and 67108864"))
	}
	if !core.ValidScopeToken(c.ResourceScope) {
		errs = append(errs, fmt.Errorf("resource_scope %q: must be one scope token (1 to 128 printable ASCII characters, no space, quote or backslash)", c.ResourceScope))
	}
	return errors.Join(errs...)
}

func (c *Config) verifierConfig() VerifierConfig {
	return VerifierConfig{Algorithms: c.Algorithms, Skew: c.ClockSkew, MaxLifetime: c.MaxLifetime, Debug: c.DebugCanonical}
}
