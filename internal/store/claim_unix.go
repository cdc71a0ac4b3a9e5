//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/authgate/authgate/internal/core"
)

// claimFile holds an flock on path, exclusive or shared, without waiting.
// The kernel drops it when the process ends, however it ends.
func claimFile(path string, exclusive bool) (Claimed, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, core.E(core.KindConflict, conflictMessage("the SQLite store "+path[:len(path)-len(".lock")], exclusive))
		}
		return nil, fmt.Errorf("store lock %s: %w", path, err)
	}
	return fileClaim{f}, nil // closing the descriptor releases the lock
}
