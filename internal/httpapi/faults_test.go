package httpapi

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

func TestUnavailableAndRetryAfter(t *testing.T) {
	down := core.Wrap(core.KindUnavailable, "database unavailable", errors.New("dial tcp: connection refused"))
	tests := []struct {
		name        string
		err         error
		unavailable bool
		retryAfter  string
	}{
		{"database down", down, true, "1"},
		{"beneath an internal error", core.Wrap(core.KindInternal, "issue token", down), true, "1"},
		{"wrapped by fmt", errors.Join(errors.New("context"), down), true, "1"},
		{"rate limited keeps its hint", &core.Error{Kind: core.KindRateLimited, RetryAfter: 2500 * time.Millisecond}, false, "3"},
		{"quota", &core.Error{Kind: core.KindQuotaExceeded, RetryAfter: time.Hour}, false, "3600"},
		{"rate limited without a hint", core.E(core.KindRateLimited, "slow down"), false, "1"},
		{"quota without a hint", core.E(core.KindQuotaExceeded, "used up"), false, "1"},
		{"bad request", core.E(core.KindInvalidInput, "x"), false, ""},
		{"foreign error", errors.New("boom"), false, ""},
		{"nil", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ok := Unavailable(tt.err)
			if ok != tt.unavailable || (ok && st != 503) {
				t.Fatalf("Unavailable = %d %v, want %v", st, ok, tt.unavailable)
			}
			w := httptest.NewRecorder()
			SetRetryAfter(w, tt.err)
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}
