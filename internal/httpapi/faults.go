package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// UnavailableRetryAfter is the Retry-After every family sends while a
// dependency is down (core.KindUnavailable: the database unreachable,
// busy or read-only): long enough not to hammer a recovering database,
// short enough that clients come back as soon as it is up.
const UnavailableRetryAfter = time.Second

// Unavailable reports whether err is a fault of a dependency rather than
// of the request: a core error of KindUnavailable, also beneath another
// core error that wraps it. It is the one mapping of such faults for every
// family: the answer is HTTP 503 (status) with RetryAfter(err), in the
// family's own error shape; no family answers it 500.
func Unavailable(err error) (status int, ok bool) {
	for err != nil {
		var ce *core.Error
		if !errors.As(err, &ce) {
			break
		}
		if ce.Kind == core.KindUnavailable {
			return http.StatusServiceUnavailable, true
		}
		err = ce.Err
	}
	return 0, false
}

// RetryAfter is the Retry-After, in whole seconds rounded up, of the
// answer to err: the error's own hint (rate limits, quotas), else
// UnavailableRetryAfter for a dependency fault or a rate limit or quota
// without a hint (a 429 or 503 always says when to come back); 0 means
// none.
func RetryAfter(err error) int {
	if d := core.RetryAfterOf(err); d > 0 {
		return int((d + time.Second - 1) / time.Second)
	}
	if _, ok := Unavailable(err); ok {
		return int(UnavailableRetryAfter / time.Second)
	}
	if k := core.KindOf(err); err != nil && (k == core.KindRateLimited || k == core.KindQuotaExceeded) {
		return int(UnavailableRetryAfter / time.Second)
	}
	return 0
}

// SetRetryAfter sets w's Retry-After header for err (none when
// RetryAfter(err) is 0). It is the one place every family, the listener
// chain and the admin APIs set Retry-After.
func SetRetryAfter(w http.ResponseWriter, err error) {
	if s := RetryAfter(err); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
}
