package cli

import (
	"context"

	"github.com/authgate/authgate/internal/httpapi"
)

// modules is what the protocol adapters contribute to a running server:
// routes on the main listener and background loops (extra listeners,
// outbox workers, purges). Each loop runs until ctx is cancelled.
type modules struct {
	http       []httpapi.Module
	background []func(ctx context.Context) error
}

// buildModules constructs every protocol adapter from the configuration.
// Each adapter adds itself below in its own block.
func buildModules(ctx context.Context, rt *runtime) (*modules, error) {
	m := &modules{}
	return m, ctx.Err()
}
