//go:build !unix

package store

import "github.com/authgate/authgate/internal/core"

// claimFile: without flock a SQLite store cannot be claimed, so serving
// refuses to start rather than risk two nodes with their own replay caches.
func claimFile(string, bool) (Claimed, error) {
	return nil, core.E(core.KindUnavailable, "serving on SQLite needs a Unix system (flock)")
}
