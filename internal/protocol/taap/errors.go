package taap

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// protocol names this adapter in the audit log.
const protocol = "taap"

// oauthError is an answer whose OAuth error code is decided by the
// handler (invalid_grant, unsupported_grant_type...), not by a core kind.
type oauthError struct {
	status int
	code   string
	desc   string
	scope  string // insufficient_scope: the scope the route requires (challenge parameter)
	cause  error  // what the audit log records; never sent
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

// invalidGrant is the token endpoint's refusal of a grant: desc is sent,
// cause only audited.
func invalidGrant(desc string, cause error) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc, cause: cause}
}

// errContext says which credential a failure is about, which decides the
// OAuth code and the WWW-Authenticate challenge of a 401.
type errContext int

const (
	ctxClient errContext = iota // token endpoint: Basic client credentials
	ctxBearer                   // resource: Bearer access token
	ctxOther                    // no credential involved (admin API bodies, explain)
)

// errorBody is the one error shape of this adapter (RFC 6749 section 5.2
// names; PoP failures use invalid_pop_token).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Canonical   string `json:"server_canonical,omitempty"`
}

// writeError renders err. This is the one place errors become statuses,
// codes and challenges.
func (m *Module) writeError(w http.ResponseWriter, r *http.Request, err error, ec errContext) {
	st, body, challenge := mapError(err, ec)
	if st >= 500 {
		m.d.Log.Error("taap request failed", slog.String("path", r.URL.Path), slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
	}
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	httpapi.SetRetryAfter(w, err)
	httpapi.WriteJSON(w, st, body)
}

func mapError(err error, ec errContext) (int, errorBody, string) {
	var ce *CheckError
	if errors.As(err, &ce) && core.KindOf(err) != core.KindUnavailable && core.KindOf(err) != core.KindInternal {
		b := errorBody{Error: ErrorCode, Description: "PoP check " + string(ce.Check) + " failed: " + ce.Reason, Canonical: ce.Canonical}
		return http.StatusUnauthorized, b, challenge("PoP", b)
	}
	var oe *oauthError
	if errors.As(err, &oe) {
		b := errorBody{Error: oe.code, Description: oe.desc}
		ch := ""
		switch {
		case oe.status == http.StatusUnauthorized:
			ch = challenge(scheme(ec), b)
		case oe.code == "insufficient_scope":
			ch = challenge("Bearer", b) + `, scope="` + oe.scope + `"`
		}
		return oe.status, b, ch
	}
	reason := core.ReasonOf(err)
	switch core.KindOf(err) {
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked, core.KindReplayed:
		b := errorBody{Error: "invalid_token", Description: reason}
		if ec == ctxClient {
			b.Error = "invalid_client"
		}
		return http.StatusUnauthorized, b, challenge(scheme(ec), b)
	case core.KindInvalidInput:
		return http.StatusBadRequest, errorBody{Error: "invalid_request", Description: reason}, ""
	case core.KindForbidden:
		return http.StatusForbidden, errorBody{Error: "access_denied", Description: reason}, ""
	case core.KindNotFound:
		return http.StatusNotFound, errorBody{Error: "not_found", Description: reason}, ""
	case core.KindConflict:
		return http.StatusConflict, errorBody{Error: "conflict", Description: reason}, ""
	case core.KindRateLimited, core.KindLimitExceeded:
		return http.StatusTooManyRequests, errorBody{Error: "slow_down", Description: reason}, ""
	case core.KindQuotaExceeded:
		return http.StatusTooManyRequests, errorBody{Error: "quota_exceeded", Description: reason}, ""
	}
	if st, ok := httpapi.Unavailable(err); ok {
		return st, errorBody{Error: "temporarily_unavailable", Description: "service temporarily unavailable"}, ""
	}
	return http.StatusInternalServerError, errorBody{Error: "server_error", Description: "internal error"}, ""
}

func scheme(ec errContext) string {
	if ec == ctxClient {
		return "Basic"
	}
	return "Bearer"
}

// challenge builds a WWW-Authenticate value in the RFC 6750 style.
func challenge(scheme string, b errorBody) string {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ")
	return scheme + ` realm="authgate", error="` + b.Error + `", error_description="` + q.Replace(b.Description) + `"`
}

// auditReason is the reason recorded for a failure.
func auditReason(err error) string {
	var ce *CheckError
	if errors.As(err, &ce) {
		return "pop " + string(ce.Check) + ": " + ce.Reason
	}
	var oe *oauthError
	if errors.As(err, &oe) {
		if r := core.ReasonOf(oe.cause); r != "" && r != oe.desc {
			return oe.code + ": " + oe.desc + " (" + r + ")"
		}
		return oe.code + ": " + oe.desc
	}
	if r := core.ReasonOf(err); r != "" {
		return r
	}
	return err.Error()
}

// auditFailure records a rejected request.
func (m *Module) auditFailure(r *http.Request, orgID, principalID, subject string, err error) {
	m.auditFailureFrom(r, m.d.ClientAddr.IP(r), orgID, principalID, subject, err)
}

// auditFailureFrom records a rejected request from addr.
func (m *Module) auditFailureFrom(r *http.Request, addr, orgID, principalID, subject string, err error) {
	_ = m.d.Audit.Record(r.Context(), core.AuditEvent{
		Action: core.AuditAuthFailure, Protocol: protocol, OrgID: orgID, PrincipalID: principalID,
		Subject: subject, Outcome: core.OutcomeFailure, Reason: auditReason(err),
		RemoteAddr: addr, RequestID: httpapi.RequestID(r),
	})
}
