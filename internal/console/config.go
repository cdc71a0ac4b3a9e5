package console

import (
	"fmt"
	"time"
)

// Config is the `console` section of authgate's configuration.
type Config struct {
	// Enabled serves /console (default on). Off, the admin API takes
	// bearer tokens only: a session cookie is ignored.
	Enabled bool `yaml:"enabled"`
	// TailInterval is how often the audit log's live tail polls for
	// newer events (default 2s).
	TailInterval time.Duration `yaml:"tail_interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Enabled: true, TailInterval: 2 * time.Second} }

// Validate checks the section.
func (c *Config) Validate() error {
	if c.TailInterval < 500*time.Millisecond || c.TailInterval > time.Minute {
		return fmt.Errorf("tail_interval %v: must be between 500ms and 1m", c.TailInterval)
	}
	return nil
}
