package apstrata

import (
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Error codes of the GenerateToken document.
const (
	CodeInvalidParameter      = "INVALID_PARAMETER"
	CodeInvalidRequest        = "INVALID_REQUEST"
	CodeInvalidParameterValue = "INVALID_PARAMETER_VALUE"
	CodeInvalidSignature      = "INVALID_SIGNATURE"
	CodeInvalidIdentifier     = "INVALID_IDENTIFIER"
	CodeMalformedReferer      = "MALFORMED_REFERER"
	CodeTooManyTokens         = "TOO_MANY_TOKENS"
	CodeInternalError         = "INTERNAL_ERROR"
)

// apsError is a failure in the protocol's own terms: an error code, the
// message shown in errorDetail, and the HTTP status.
type apsError struct {
	Code   string
	Detail string
	Status int
	// reason is what the audit log records when it says more than Detail
	// (Detail must not tell an attacker which check failed).
	reason string
	// guess marks a failed credential check (unknown authKey, user or
	// device, wrong signature): the failed-authentication limits count it.
	guess bool
}

func (e *apsError) Error() string { return e.Code + ": " + e.Detail }

// Unwrap makes a guess an unauthenticated core error for the limiter (core.IsGuess).
func (e *apsError) Unwrap() error {
	if e.guess {
		return core.ErrUnauthenticated
	}
	return nil
}

func fail(code, detail string) *apsError {
	return &apsError{Code: code, Detail: detail, Status: http.StatusBadRequest}
}

// authFailure is an INVALID_SIGNATURE whose detail is the same for every
// cause; reason goes to the audit log only.
func authFailure(detail, reason string) *apsError {
	return &apsError{Code: CodeInvalidSignature, Detail: detail, Status: http.StatusBadRequest, reason: reason, guess: true}
}

// outcomeOf is what an error reports to core.Observer: core errors (and
// failed credential checks, which unwrap to one) as they are, the other
// refusals raised in the protocol's terms as the core kind they stand
// for (refusalKind), so the reason label is the closed set of kinds.
func outcomeOf(err error) error {
	ae, ok := err.(*apsError)
	if !ok || ae.guess {
		return err
	}
	switch refusalKind(err, ae) {
	case core.KindForbidden:
		return core.ErrForbidden
	case core.KindRateLimited:
		return core.ErrRateLimited
	case core.KindInternal:
		return core.ErrInternal
	}
	return core.ErrInvalidInput
}

// toAPS maps any error to the protocol's shape, once, at the edge.
func toAPS(err error) *apsError {
	if e, ok := err.(*apsError); ok {
		return e
	}
	if st, ok := httpapi.Unavailable(err); ok {
		return &apsError{Code: CodeInternalError, Detail: "The service is temporarily unavailable, retry later", Status: st, reason: err.Error()}
	}
	switch core.KindOf(err) {
	case core.KindReplayed:
		return authFailure("The signature has already been used", err.Error())
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
		return authFailure("Invalid credentials", err.Error())
	case core.KindInvalidInput: // e.g. scheme.BodyUnavailable
		return &apsError{Code: CodeInvalidRequest, Detail: core.ReasonOf(err), Status: http.StatusBadRequest, reason: err.Error()}
	case core.KindForbidden: // e.g. not subscribed to the API resource
		return &apsError{Code: CodeInvalidRequest, Detail: core.ReasonOf(err), Status: http.StatusForbidden, reason: err.Error()}
	case core.KindRateLimited, core.KindQuotaExceeded:
		return &apsError{Code: CodeInvalidRequest, Detail: core.ReasonOf(err), Status: http.StatusTooManyRequests, reason: err.Error()}
	}
	return &apsError{Code: CodeInternalError, Detail: "Internal error", Status: http.StatusInternalServerError, reason: err.Error()}
}
