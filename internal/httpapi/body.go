package httpapi

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/authgate/authgate/internal/core"
)

// The causes of ReadBody's refusals, for errors.Is: each family maps
// them to its own error shape with BodyStatus.
var (
	// ErrBodyTooLarge: the body is (or declares itself) longer than allowed.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrBodyTimeout: the body did not arrive within the listener's
	// body_read_timeout (a slow client).
	ErrBodyTimeout = errors.New("request body not received in time")
	// ErrBodyUnreadable: the connection failed while the body was read.
	ErrBodyUnreadable = errors.New("request body could not be read")
)

// ReadBody reads r's whole body, at most max bytes, for every adapter that
// needs the body as bytes (signatures over it, form and XML parsers). It
// refuses a body that declares a larger Content-Length before reading
// anything. Refusals are core errors of KindInvalidInput wrapping
// ErrBodyTooLarge, ErrBodyTimeout or ErrBodyUnreadable; on any of them the
// connection is marked to close (w may be nil), since the rest of the body
// would otherwise be read at the sender's pace to keep it. A request
// without a body gives nil, nil.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	tooLarge := func() error {
		closeConn(w)
		return core.Wrap(core.KindInvalidInput, "request body larger than "+strconv.FormatInt(max, 10)+" bytes", ErrBodyTooLarge)
	}
	if r.ContentLength > max {
		return nil, tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || err == nil && int64(len(b)) > max:
		return nil, tooLarge()
	case isTimeout(err):
		closeConn(w)
		return nil, core.Wrap(core.KindInvalidInput, "request body not received in time", ErrBodyTimeout)
	case err != nil:
		closeConn(w)
		return nil, core.Wrap(core.KindInvalidInput, "request body could not be read", errors.Join(ErrBodyUnreadable, err))
	}
	return b, nil
}

// isTimeout reports whether a body read failed on the connection's read
// deadline (the listener's body_read_timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func closeConn(w http.ResponseWriter) {
	if w != nil {
		w.Header().Set("Connection", "close")
	}
}

// BodyStatus is the HTTP status of a ReadBody refusal: 413 for a body too
// large, 408 for one too slow, 400 for one that could not be read; ok is
// false for any other error.
func BodyStatus(err error) (status int, ok bool) {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, true
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout, true
	case errors.Is(err, ErrBodyUnreadable):
		return http.StatusBadRequest, true
	}
	return 0, false
}
