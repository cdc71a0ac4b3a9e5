package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// TestWriteAdminError: one mapping for every admin API. An expired or
// revoked token is 401 (the subscription and gateway admin APIs answered
// 500 to them), rate limits 429 with Retry-After, internal causes are
// never sent.
func TestWriteAdminError(t *testing.T) {
	tests := []struct {
		err         error
		status      int
		code, desc  string
		challenge   bool
		retryAfter  string
		wantReasons int
	}{
		{core.E(core.KindInvalidInput, "bad field"), 400, "invalid_request", "bad field", false, "", 0},
		{core.Invalid([]string{"a", "b"}), 400, "invalid_request", "", false, "", 2},
		{core.E(core.KindUnauthenticated, "invalid token"), 401, "invalid_token", "invalid token", true, "", 0},
		{core.E(core.KindExpired, "token expired"), 401, "invalid_token", "token expired", true, "", 0},
		{core.E(core.KindRevoked, "token revoked"), 401, "invalid_token", "token revoked", true, "", 0},
		{core.E(core.KindForbidden, "not allowed"), 403, "insufficient_scope", "not allowed", false, "", 0},
		{core.E(core.KindNotFound, "no such route"), 404, "not_found", "no such route", false, "", 0},
		{core.E(core.KindConflict, "exists"), 409, "conflict", "exists", false, "", 0},
		{&core.Error{Kind: core.KindRateLimited, Reason: "slow down", RetryAfter: 3 * time.Second}, 429, "rate_limited", "slow down", false, "3", 0},
		{core.E(core.KindUnavailable, "db down"), 503, "temporarily_unavailable", "service temporarily unavailable", false, "1", 0},
		{errors.New("secret internal detail"), 500, "server_error", "internal error", false, "", 0},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		WriteAdminError(w, httptest.NewRequest("GET", "/admin/x", nil), nil, "test", tt.err)
		var got AdminError
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if w.Code != tt.status || got.Code != tt.code || (tt.desc != "" && got.Description != tt.desc) || len(got.Reasons) != tt.wantReasons {
			t.Errorf("%v: %d %+v, want %d %s %q", tt.err, w.Code, got, tt.status, tt.code, tt.desc)
		}
		if (w.Header().Get("WWW-Authenticate") != "") != tt.challenge || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%v: headers %v", tt.err, w.Header())
		}
	}
}
