package wssec

import (
	"github.com/authgate/authgate/internal/core"
)

// Code is a WS-Security 1.0 fault code (the local part of a wsse: QName,
// section 12 of the SOAP Message Security specification).
type Code string

// The fault codes of the WS-Security specification.
const (
	CodeUnsupportedSecurityToken Code = "UnsupportedSecurityToken"
	CodeUnsupportedAlgorithm     Code = "UnsupportedAlgorithm"
	CodeInvalidSecurity          Code = "InvalidSecurity"
	CodeInvalidSecurityToken     Code = "InvalidSecurityToken"
	CodeFailedAuthentication     Code = "FailedAuthentication"
	CodeFailedCheck              Code = "FailedCheck"
	CodeSecurityTokenUnavailable Code = "SecurityTokenUnavailable"
	CodeMessageExpired           Code = "MessageExpired"
)

// Error is a verification failure: a WS-Security fault code and a reason
// that is safe to show to the sender (it never contains message content).
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return "wsse:" + string(e.Code) + ": " + e.Reason }

// Unwrap exposes the failure as a core error, so core.KindOf and the
// sentinels work: expired timestamps are KindExpired, everything else
// KindUnauthenticated.
func (e *Error) Unwrap() error {
	kind := core.KindUnauthenticated
	if e.Code == CodeMessageExpired {
		kind = core.KindExpired
	}
	return core.E(kind, e.Reason)
}

func fail(code Code, reason string) *Error { return &Error{Code: code, Reason: reason} }
