package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Pinger is what readiness needs from the store: that it answers, and
// that it takes a write.
type Pinger interface {
	Ping(ctx context.Context) error
	CheckWritable(ctx context.Context) error
}

// readiness answers /readyz. A node whose store reads but cannot write
// (read-only file, full disk, demoted primary) is not ready: it would
// fail every issuance. The check is one small write, bounded by a
// timeout; its result is kept for a second and concurrent probes share
// one check, so probes cannot turn into write load.
type readiness struct {
	store Pinger
	log   *slog.Logger

	mu      sync.Mutex
	checked time.Time
	err     error
}

const (
	readyTimeout = 2 * time.Second
	readyCache   = time.Second
)

func (rd *readiness) check(ctx context.Context) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.checked.IsZero() && time.Since(rd.checked) < readyCache {
		return rd.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	err := rd.store.Ping(ctx)
	if err == nil {
		err = rd.store.CheckWritable(ctx)
	}
	rd.checked, rd.err = time.Now(), err
	return err
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rd.store != nil {
		if err := rd.check(r.Context()); err != nil {
			rd.log.Warn("readiness check failed", slog.Any("err", err))
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database not reachable or not writable"})
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
