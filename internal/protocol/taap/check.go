package taap

import (
	"github.com/authgate/authgate/internal/core"
)

// Check names one verification step of a PoP token. Every rejection
// names the check that failed, for the caller and in the audit log.
type Check string

// The checks, in the order Verify runs them.
const (
	CheckPresent   Check = "present"        // X-Authorization header
	CheckFormat    Check = "format"         // JWS compact serialization, JSON header and claims
	CheckAlg       Check = "alg"            // algorithm allow-list
	CheckClient    Check = "client"         // the client and its registered key
	CheckSignature Check = "signature"      // RSA signature with a registered key
	CheckVersion   Check = "v"              // v == "1"
	CheckIssuedAt  Check = "iat"            // not issued in the future
	CheckExpiry    Check = "exp"            // not expired
	CheckLifetime  Check = "lifetime"       // exp - iat within the configured maximum
	CheckEHTS      Check = "ehts"           // well-formed list of signed parts
	CheckRequired  Check = "required_parts" // ehts covers what the route requires
	CheckEDTS      Check = "edts"           // hash of the request's parts matches
	CheckReplay    Check = "jti"            // jti used once
)

// ErrorCode is the "error" member of every PoP rejection.
const ErrorCode = "invalid_pop_token"

// CheckError is a PoP token rejection. Reason is safe to show to the
// caller (it never contains secrets); Canonical is the server-side
// canonical string of an edts mismatch with the Authorization value
// redacted, filled only when the debug option is on.
type CheckError struct {
	Check     Check
	Reason    string
	Canonical string
	kind      core.Kind
}

func (e *CheckError) Error() string { return "pop token " + string(e.Check) + ": " + e.Reason }

// Unwrap exposes the core error kind (Expired, Replayed, Unauthenticated,
// Unavailable...) so core.KindOf works on it.
func (e *CheckError) Unwrap() error { return core.E(e.kind, e.Reason) }

func fail(c Check, reason string) *CheckError {
	return &CheckError{Check: c, Reason: reason, kind: core.KindUnauthenticated}
}

func failKind(c Check, kind core.Kind, reason string) *CheckError {
	return &CheckError{Check: c, Reason: reason, kind: kind}
}
