package tpv

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// transportError is a problem with the HTTP envelope rather than the
// domain (body too large, wrong content type): it carries its status.
type transportError struct {
	status int
	msg    string
}

func (e *transportError) Error() string { return e.msg }

// status maps an error to the TPV API's status code. This is the one
// place core error kinds become HTTP statuses.
func status(err error) int {
	var te *transportError
	if errors.As(err, &te) {
		return te.status
	}
	if st, ok := httpapi.BodyStatus(err); ok {
		return st
	}
	switch core.KindOf(err) {
	case core.KindInvalidInput:
		return http.StatusBadRequest
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked, core.KindReplayed:
		return http.StatusUnauthorized
	case core.KindForbidden:
		return http.StatusForbidden
	case core.KindNotFound:
		return http.StatusNotFound
	case core.KindConflict:
		return http.StatusConflict
	case core.KindRateLimited, core.KindLimitExceeded, core.KindQuotaExceeded:
		return http.StatusTooManyRequests
	}
	if st, ok := httpapi.Unavailable(err); ok {
		return st
	}
	return http.StatusInternalServerError
}

// message is what the caller reads in {"error": ...}.
func message(err error) string {
	var te *transportError
	if errors.As(err, &te) {
		return te.msg
	}
	if r := core.ReasonOf(err); r != "" && core.KindOf(err) != core.KindInternal {
		return r
	}
	return "internal error"
}

// auditReason is the detailed reason kept in the audit log: the
// audit-only cause when there is one, else the caller-visible reason.
func auditReason(err error) string {
	var d errDetail
	if errors.As(err, &d) {
		return string(d)
	}
	return message(err)
}

// writeError renders err in the vendor's {"error": "..."} shape. A refused
// record or product also lists every fault under "errors" (the first is
// "error"), a key the vendor's clients, which read only "error", ignore.
func (m *Module) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	if st >= 500 {
		m.d.Log.Error("tpv request failed", slog.String("path", r.URL.Path), slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
	}
	if st == http.StatusUnauthorized {
		// No scheme is standard for the vendor's bare-token header; name it anyway.
		w.Header().Set("WWW-Authenticate", `TPV realm="authgate"`)
	}
	httpapi.SetRetryAfter(w, err)
	msg := message(err)
	var te *transportError
	if reasons := core.ReasonsOf(err); len(reasons) > 0 && !errors.As(err, &te) && reasons[0] == msg {
		httpapi.WriteJSON(w, st, map[string]any{"error": msg, "errors": reasons})
		return
	}
	httpapi.WriteJSON(w, st, map[string]string{"error": msg})
}

// audit records e with the request's address and id filled in. Failure
// to record a failure is logged (by the auditor) and does not change the
// response; callers that issue something check the returned error.
func (m *Module) audit(r *http.Request, e core.AuditEvent) error {
	e.Protocol = protocol
	if e.RemoteAddr == "" {
		e.RemoteAddr = m.d.ClientAddr.IP(r)
	}
	e.RequestID = httpapi.RequestID(r)
	return m.d.Audit.Record(r.Context(), e)
}

// auditFailure records a failed authentication or a rejected request from
// the client address ip.
func (m *Module) auditFailure(r *http.Request, ip, action string, b *brand, subject string, err error) {
	e := core.AuditEvent{Action: action, Outcome: core.OutcomeFailure, Subject: subject, Reason: auditReason(err), RemoteAddr: ip}
	if b != nil {
		e.OrgID, e.PrincipalID = b.OrgID, b.PrincipalID
	}
	_ = m.audit(r, e)
}
