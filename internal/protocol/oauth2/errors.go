package oauth2

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Error is an RFC 6749 section 5.2 error response (also used, with RFC 6750
// codes, for bearer-protected routes and the access-key API).
type Error struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Challenge is the WWW-Authenticate scheme sent with a 401 ("Basic" or "Bearer").
	Challenge string `json:"-"`
	// bare sends the challenge without error attributes: RFC 6750 section
	// 3.1 for requests that carried no credentials at all.
	bare bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// RFC 6749, 6750, 7009 error codes.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidClient        = "invalid_client"
	codeInvalidGrant         = "invalid_grant"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidToken         = "invalid_token"
	codeInsufficientScope    = "insufficient_scope"
	codeServerError          = "server_error"
	codeUnavailable          = "temporarily_unavailable"
	codeNotFound             = "not_found"
	codeConflict             = "conflict"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeQuotaExceeded        = "quota_exceeded" // API subscription quota used up (429)
)

func errInvalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Description: desc}
}

// The context an error is mapped in decides its code: a bad secret is
// invalid_client when the client authenticates, invalid_grant when it is
// the resource owner's password or a refresh token, invalid_token for a
// bearer token.
type errContext int

const (
	ctxClient errContext = iota
	ctxGrant
	ctxBearer
	ctxResource
)

// mapError turns a core error into the protocol's error, once, at the edge.
// challenge is the scheme the client used ("Basic", "Bearer" or "").
func mapError(err error, in errContext, challenge string) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	switch {
	case errors.Is(err, core.ErrBearerMissing):
		// RFC 6750 section 3.1: no credentials at all, a bare challenge.
		return &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Description: core.ReasonOf(err), Challenge: "Bearer", bare: true}
	case errors.Is(err, core.ErrBearerMalformed):
		return &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Description: core.ReasonOf(err), Challenge: "Bearer"}
	}
	if st, ok := httpapi.Unavailable(err); ok {
		return &Error{Status: st, Code: codeUnavailable, Description: "service temporarily unavailable"}
	}
	reason := core.ReasonOf(err)
	switch core.KindOf(err) {
	case core.KindInvalidInput:
		return errInvalidRequest(reason)
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked, core.KindReplayed:
		switch in {
		case ctxClient:
			if challenge == "" {
				challenge = "Basic"
			}
			return &Error{Status: http.StatusUnauthorized, Code: codeInvalidClient, Description: reason, Challenge: challenge}
		case ctxGrant:
			return &Error{Status: http.StatusBadRequest, Code: codeInvalidGrant, Description: reason}
		default:
			return &Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, Description: reason, Challenge: "Bearer"}
		}
	case core.KindForbidden:
		return &Error{Status: http.StatusForbidden, Code: codeInsufficientScope, Description: reason}
	case core.KindNotFound:
		return &Error{Status: http.StatusNotFound, Code: codeNotFound, Description: reason}
	case core.KindConflict:
		return &Error{Status: http.StatusConflict, Code: codeConflict, Description: reason}
	case core.KindRateLimited:
		return &Error{Status: http.StatusTooManyRequests, Code: codeUnavailable, Description: reason}
	case core.KindQuotaExceeded:
		return &Error{Status: http.StatusTooManyRequests, Code: codeQuotaExceeded, Description: reason}
	case core.KindLimitExceeded:
		return &Error{Status: http.StatusForbidden, Code: codeInvalidRequest, Description: reason}
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeServerError, Description: "internal error"}
}

// writeError renders e; internal causes are logged, never sent.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, in errContext, challenge string) {
	e := mapError(err, in, challenge)
	if e.Status >= 500 {
		log.LogAttrs(r.Context(), slog.LevelError, "oauth2 request failed", slog.String("path", r.URL.Path),
			slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", httpapi.Challenge(e.Challenge, e.Code, e.Description, e.bare))
	}
	httpapi.SetRetryAfter(w, err)
	w.Header().Set("Pragma", "no-cache")
	httpapi.WriteJSONType(w, e.Status, "application/json;charset=UTF-8", e)
}
