package device

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Error is the device server's error body: RFC 6749 section 5.2 names
// ({"error", "error_description"}) with RFC 6750 codes, as on the rest of
// the device-server API.
type Error struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Challenge is the WWW-Authenticate scheme of a 401 ("Basic" or "Bearer").
	Challenge string `json:"-"`
	// bare sends the challenge without error attributes: RFC 6750 section
	// 3.1 for requests that carried no credentials at all.
	bare bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

// The credential a failure is about decides a 401's code: a bearer token
// on the management routes (invalid_token, Bearer challenge), the client
// certificate on the mTLS listener (invalid_client, Basic challenge).
type errContext int

const (
	ctxBearer errContext = iota
	ctxCertificate
)

// mapError turns a core error into the device server's error, once, at the edge.
func mapError(err error, in errContext) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, core.ErrBearerMissing):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_request", Description: core.ReasonOf(err), Challenge: "Bearer", bare: true}
	case errors.Is(err, core.ErrBearerMalformed):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_request", Description: core.ReasonOf(err), Challenge: "Bearer"}
	}
	if st, ok := httpapi.Unavailable(err); ok {
		return &Error{Status: st, Code: "temporarily_unavailable", Description: "service temporarily unavailable"}
	}
	reason := core.ReasonOf(err)
	switch core.KindOf(err) {
	case core.KindInvalidInput:
		return errInvalidRequest(reason)
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked, core.KindReplayed:
		if in == ctxCertificate {
			return &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Description: reason, Challenge: "Basic"}
		}
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: reason, Challenge: "Bearer"}
	case core.KindForbidden:
		return &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: reason}
	case core.KindNotFound:
		return &Error{Status: http.StatusNotFound, Code: "not_found", Description: reason}
	case core.KindConflict:
		return &Error{Status: http.StatusConflict, Code: "conflict", Description: reason}
	case core.KindRateLimited:
		return &Error{Status: http.StatusTooManyRequests, Code: "temporarily_unavailable", Description: reason}
	case core.KindQuotaExceeded:
		return &Error{Status: http.StatusTooManyRequests, Code: "quota_exceeded", Description: reason}
	case core.KindLimitExceeded:
		return &Error{Status: http.StatusForbidden, Code: "invalid_request", Description: reason}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
}

// writeError renders err; internal causes are logged, never sent.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, in errContext) {
	e := mapError(err, in)
	if e.Status >= 500 {
		log.LogAttrs(r.Context(), slog.LevelError, "device request failed", slog.String("path", r.URL.Path),
			slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", httpapi.Challenge(e.Challenge, e.Code, e.Description, e.bare))
	}
	httpapi.SetRetryAfter(w, err)
	w.Header().Set("Pragma", "no-cache")
	httpapi.WriteJSONType(w, e.Status, "application/json;charset=UTF-8", e)
}
