package core

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a domain error. Adapters map kinds (never messages) to
// their protocol's error shape, once, at the edge.
type Kind int

// The kinds of domain errors.
const (
	KindInternal        Kind = iota // unexpected failure; details are logged, not shown
	KindInvalidInput                // malformed or out-of-range request data
	KindUnauthenticated             // credentials missing, unknown or wrong
	KindForbidden                   // authenticated but not allowed
	KindNotFound                    // the addressed object does not exist
	KindConflict                    // uniqueness or optimistic-concurrency violation
	KindExpired                     // token or timestamp outside its validity
	KindRevoked                     // token or credential revoked
	KindReplayed                    // nonce/jti/signature seen before
	KindRateLimited                 // too many attempts
	KindUnavailable                 // dependency (database) temporarily unavailable
	KindLimitExceeded               // a configured count limit was reached
	KindQuotaExceeded               // a usage quota for the period is used up (Error.RetryAfter: until it resets)
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalidInput:    "invalid_input",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindExpired:         "expired",
	KindRevoked:         "revoked",
	KindReplayed:        "replayed",
	KindRateLimited:     "rate_limited",
	KindUnavailable:     "unavailable",
	KindLimitExceeded:   "limit_exceeded",
	KindQuotaExceeded:   "quota_exceeded",
}

func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is authgate's typed domain error. Reason is safe to show to the
// caller; Err (if any) is the underlying cause and is only logged.
type Error struct {
	Kind   Kind
	Reason string
	Err    error
	// RetryAfter, for RateLimited and QuotaExceeded errors, is how long
	// until a retry can succeed (0: unknown). Adapters put it in their
	// protocol's retry hint (HTTP Retry-After).
	RetryAfter time.Duration
	// Reasons, for an input with several faults, lists every caller-safe
	// reason (Reason is the first), so a client fixes them in one round.
	Reasons []string
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Reason != "":
		return e.Kind.String() + ": " + e.Reason + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Kind.String() + ": " + e.Err.Error()
	default:
		return e.Kind.String() + ": " + e.Reason
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) (and the other sentinels) match any
// *Error of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == "" && t.Err == nil && t.Kind == e.Kind
}

// Sentinels for errors.Is; they match any *Error of their kind.
var (
	ErrInternal        = &Error{Kind: KindInternal}
	ErrInvalidInput    = &Error{Kind: KindInvalidInput}
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated}
	ErrForbidden       = &Error{Kind: KindForbidden}
	ErrNotFound        = &Error{Kind: KindNotFound}
	ErrConflict        = &Error{Kind: KindConflict}
	ErrExpired         = &Error{Kind: KindExpired}
	ErrRevoked         = &Error{Kind: KindRevoked}
	ErrReplayed        = &Error{Kind: KindReplayed}
	ErrRateLimited     = &Error{Kind: KindRateLimited}
	ErrUnavailable     = &Error{Kind: KindUnavailable}
	ErrLimitExceeded   = &Error{Kind: KindLimitExceeded}
	ErrQuotaExceeded   = &Error{Kind: KindQuotaExceeded}
)

// E builds an *Error with a caller-safe reason.
func E(kind Kind, reason string) *Error { return &Error{Kind: kind, Reason: reason} }

// Wrap builds an *Error of kind around cause.
func Wrap(kind Kind, reason string, cause error) *Error {
	return &Error{Kind: kind, Reason: reason, Err: cause}
}

// KindOf returns the kind of err, KindInternal for foreign errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ReasonOf returns the caller-safe reason of err ("" for foreign errors,
// whose text may carry internals).
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Invalid builds a KindInvalidInput *Error listing every reason found;
// Reason is the first.
func Invalid(reasons []string) *Error {
	if len(reasons) == 0 {
		return E(KindInvalidInput, "the input is invalid")
	}
	return &Error{Kind: KindInvalidInput, Reason: reasons[0], Reasons: reasons}
}

// ReasonsOf returns the Reasons of err (nil if it lists none).
func ReasonsOf(err error) []string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reasons
	}
	return nil
}

// RetryAfterOf returns the retry hint of err (0 if it has none).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
