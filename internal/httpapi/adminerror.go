package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
)

// AdminError is the JSON error of authgate's own admin API (every route
// under /admin, internal/adminapi's mount): the OAuth2
// error shape (error, error_description) plus the reasons of an invalid
// input, one per problem.
type AdminError struct {
	Code        string   `json:"error"`
	Description string   `json:"error_description,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
}

// WriteAdminError maps a core error to an admin API's status and
// AdminError, once for every admin API. A bad, expired or revoked token is
// 401 with a Bearer challenge; a body refused by ReadBody is 413, 408 or
// 400 (BodyStatus); internal causes are logged (what names the
// API in the log line), never sent.
func WriteAdminError(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	status, code := http.StatusInternalServerError, "server_error"
	switch core.KindOf(err) {
	case core.KindInvalidInput:
		status, code = http.StatusBadRequest, "invalid_request"
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
		status, code = http.StatusUnauthorized, "invalid_token"
		w.Header().Set("WWW-Authenticate", `Bearer realm="authgate"`)
	case core.KindForbidden:
		status, code = http.StatusForbidden, "insufficient_scope"
	case core.KindNotFound:
		status, code = http.StatusNotFound, "not_found"
	case core.KindConflict:
		status, code = http.StatusConflict, "conflict"
	case core.KindRateLimited, core.KindQuotaExceeded:
		status, code = http.StatusTooManyRequests, "rate_limited"
		SetRetryAfter(w, err)
	}
	if st, ok := BodyStatus(err); ok {
		status = st // 413 for a body too large, 408 for one too slow
	}
	if st, ok := Unavailable(err); ok {
		status, code = st, "temporarily_unavailable"
		SetRetryAfter(w, err)
	}
	out := AdminError{Code: code, Description: core.ReasonOf(err), Reasons: core.ReasonsOf(err)}
	if status >= 500 {
		if log != nil && status != http.StatusServiceUnavailable {
			log.Error(what+" request failed", slog.String("path", r.URL.Path), slog.String("request_id", RequestID(r)), slog.Any("err", err))
		}
		out = AdminError{Code: code, Description: "internal error"}
		if status == http.StatusServiceUnavailable {
			out.Description = "service temporarily unavailable"
		}
	}
	WriteJSON(w, status, out)
}
