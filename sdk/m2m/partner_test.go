package m2m

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPartnerHandlerRefusalsAreFaults: the partner side answers a wrong
// method and an oversized body with SOAP Faults too, with their statuses.
func TestPartnerHandlerRefusalsAreFaults(t *testing.T) {
	h := &PartnerHandler{MaxBytes: 16}
	for _, tc := range []struct {
		method, body string
		status       int
		detail       string
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed, ErrUnknownOperation},
		{http.MethodPost, strings.Repeat("x", 17), http.StatusRequestEntityTooLarge, ErrMessageTooLarge},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/M2MAdmCl", strings.NewReader(tc.body)))
		f := ParseFault(rec.Body.Bytes())
		if rec.Code != tc.status || f == nil || f.Code != FaultClient || f.Detail != tc.detail {
			t.Errorf("%s: HTTP %d %+v: %s", tc.method, rec.Code, f, rec.Body)
		}
	}
}
