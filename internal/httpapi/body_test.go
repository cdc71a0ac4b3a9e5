package httpapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// errReader fails with err after giving its data.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name          string
		body          io.Reader
		contentLength int64
		want          string
		cause         error // nil: read
		status        int
	}{
		{"no body", nil, 0, "", nil, 0},
		{"within the limit", strings.NewReader("0123456789"), 10, "0123456789", nil, 0},
		{"chunked within the limit", strings.NewReader("01234"), -1, "01234", nil, 0},
		{"declared too large, nothing read", &errReader{err: errors.New("must not be read")}, 11, "", httpapi.ErrBodyTooLarge, 413},
		{"chunked too large", strings.NewReader(strings.Repeat("x", 11)), -1, "", httpapi.ErrBodyTooLarge, 413},
		{"MaxBytesReader of the chain", http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader("0123456789")), 4), -1, "", httpapi.ErrBodyTooLarge, 413},
		{"slow body (read deadline)", &errReader{data: "01", err: os.ErrDeadlineExceeded}, -1, "", httpapi.ErrBodyTimeout, 408},
		{"connection reset", &errReader{data: "01", err: errors.New("connection reset by peer")}, -1, "", httpapi.ErrBodyUnreadable, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tc.body)
			if tc.body == nil {
				r.Body = http.NoBody
			} else {
				r.Body = io.NopCloser(tc.body)
			}
			r.ContentLength = tc.contentLength
			w := httptest.NewRecorder()
			got, err := httpapi.ReadBody(w, r, 10)
			if tc.cause == nil {
				if err != nil || string(got) != tc.want {
					t.Fatalf("got %q %v", got, err)
				}
				if w.Header().Get("Connection") != "" {
					t.Fatal("connection closed after a good body")
				}
				return
			}
			if !errors.Is(err, tc.cause) || core.KindOf(err) != core.KindInvalidInput || got != nil {
				t.Fatalf("got %q %v, want %v", got, err, tc.cause)
			}
			if st, ok := httpapi.BodyStatus(err); !ok || st != tc.status {
				t.Fatalf("status %d %v", st, ok)
			}
			if w.Header().Get("Connection") != "close" {
				t.Fatal("connection not marked to close")
			}
		})
	}
	if _, ok := httpapi.BodyStatus(core.E(core.KindInvalidInput, "x")); ok {
		t.Fatal("BodyStatus of another error")
	}
}

// TestDecodeJSONBodyCauses: DecodeJSON's refusals of a body too large or
// too slow carry ReadBody's causes, so every family maps them alike.
func TestDecodeJSONBodyCauses(t *testing.T) {
	for cause, body := range map[error]io.Reader{
		httpapi.ErrBodyTooLarge: http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(`{"a":"0123456789"}`)), 4),
		httpapi.ErrBodyTimeout:  &errReader{data: `{"a":`, err: os.ErrDeadlineExceeded},
	} {
		r := httptest.NewRequest("POST", "/", body)
		var v map[string]string
		err := httpapi.DecodeJSON(r, &v)
		if !errors.Is(err, cause) || core.KindOf(err) != core.KindInvalidInput {
			t.Fatalf("%v: got %v", cause, err)
		}
	}
}
