package taap

import (
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// DefaultResourceScope is the scope the connectivity resource requires
// (taap.resource_scope) and the one a client registered without a scope
// is granted (RFC 6749 section 3.3: the server's pre-defined default).
const DefaultResourceScope = "iot-connectivity"

// errInsufficientScope is RFC 6750 section 3.1's insufficient_scope: the
// access token is valid but its scope does not include scope.
func errInsufficientScope(scope string) *oauthError {
	return &oauthError{status: http.StatusForbidden, code: "insufficient_scope", scope: scope,
		desc: "the access token's scope does not include " + scope}
}

// RequireScope wraps a handler placed behind RequirePoP so that it runs
// only when the caller's access token has scope; otherwise the answer is
// 403 insufficient_scope with a Bearer challenge naming the scope, and the
// refusal is audited.
func (m *Module) RequireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := CallerFrom(r.Context())
		if !ok || !core.HasScope(c.Token.Scope, scope) {
			err := errInsufficientScope(scope)
			_ = m.d.Audit.Record(r.Context(), core.AuditEvent{Action: core.AuditForbidden, Protocol: protocol, OrgID: c.Token.OrgID,
				PrincipalID: c.Token.PrincipalID, Subject: c.Token.ID, Outcome: core.OutcomeFailure,
				Reason:     r.Method + " " + r.URL.Path + ": insufficient_scope: token scope " + quoteScope(c.Token.Scope) + " lacks " + scope,
				RemoteAddr: m.d.ClientAddr.IP(r), RequestID: httpapi.RequestID(r)})
			m.writeError(w, r, err, ctxBearer)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// quoteScope writes a scope for the audit log, bounded.
func quoteScope(s string) string {
	if len(s) > 128 {
		s = s[:128] + "..."
	}
	return `"` + s + `"`
}
