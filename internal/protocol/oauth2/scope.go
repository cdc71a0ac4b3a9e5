package oauth2

import (
	"context"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/core"
)

// Scope (RFC 6749 section 3.3). A principal may be granted the API
// resources it or its organisation is subscribed to (internal/subscription;
// the token's scope then limits it to them, see core.Access.Scope), and an
// admin also "admin". A request without scope gets the default: "admin"
// for admins, "" (no limit beyond the subscriptions) for everyone else.

// codeInvalidScope is RFC 6749 section 5.2's invalid_scope.
const codeInvalidScope = "invalid_scope"

func errInvalidScope(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidScope, Description: desc}
}

// scopeSource lists the API resources a principal of an organisation is
// subscribed to (subscription.Service).
type scopeSource interface {
	SubscribedResources(ctx context.Context, orgID, principalID string) ([]string, error)
}

// allowedScopes is every scope p may be granted.
func (m *Module) allowedScopes(ctx context.Context, p core.Principal) ([]string, error) {
	var out []string
	if p.Kind == core.PrincipalAdmin {
		out = append(out, scopeAdmin)
	}
	if m.opt.Scopes == nil {
		return out, nil
	}
	res, err := m.opt.Scopes.SubscribedResources(ctx, p.OrgID, p.ID)
	if err != nil {
		return nil, err
	}
	return append(out, res...), nil
}

// requestedScope parses the request's scope parameter; ok is false when
// the request has none (empty counts as none, RFC 6749 section 3.1).
func requestedScope(f Form) (scope []string, ok bool, err error) {
	raw := f.get("scope")
	if raw == "" {
		return nil, false, nil
	}
	scope, perr := core.ParseScope(raw)
	if perr != nil {
		return nil, true, errInvalidScope(perr.Error())
	}
	if len(scope) == 0 {
		return nil, false, nil
	}
	return scope, true, nil
}

// grantScope is the scope of a new grant to p: the default without a
// scope parameter, else the requested scopes p may have (unknown and
// unsubscribed ones are left out, as section 3.3 allows); none of them is
// invalid_scope. requested reports whether the response must name the
// scope granted.
func (m *Module) grantScope(ctx context.Context, f Form, p core.Principal) (scope string, requested bool, err error) {
	req, ok, err := requestedScope(f)
	if err != nil || !ok {
		return scopeOf(p), false, err
	}
	allowed, err := m.allowedScopes(ctx, p)
	if err != nil {
		return "", true, err
	}
	got := core.IntersectScope(req, allowed)
	if len(got) == 0 {
		return "", true, errInvalidScope("none of the requested scopes may be granted to this key (a scope names an API resource its organisation is subscribed to)")
	}
	return strings.Join(got, " "), true, nil
}

// refreshScope is the access-token scope of a refresh of a grant of
// scope granted (section 6): the same without a scope parameter; else the
// request, which must not name anything the grant lacks. A default grant
// ("" or an admin's "admin") stands for everything p may have now.
func (m *Module) refreshScope(ctx context.Context, f Form, p core.Principal, granted string) (scope string, requested bool, err error) {
	req, ok, err := requestedScope(f)
	if err != nil || !ok {
		return granted, false, err
	}
	var within []string
	if granted == scopeOf(p) {
		if within, err = m.allowedScopes(ctx, p); err != nil {
			return "", true, err
		}
	} else {
		within = strings.Fields(granted)
	}
	got := core.IntersectScope(req, within)
	if len(got) != len(req) {
		return "", true, errInvalidScope("a refresh may narrow the scope of its grant, never widen it")
	}
	return strings.Join(got, " "), true, nil
}
