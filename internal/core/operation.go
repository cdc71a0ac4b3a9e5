package core

import "context"

// Gate is what a lifecycle operation (create, list, get, delete, revoke of
// an object, in the package owning the object) gets from whoever calls it:
// the acting principal, and the privilege check that audits a refusal with
// the caller's request (the admin API's request, the CLI's Operator).
type Gate interface {
	Actor() Actor
	Authorize(ctx context.Context, action Action, target Target, subject string) error
}

// Operator is the gate of the local command line: it holds the master key
// and the store already, so it acts as an administrator, and is still
// refused an action the table does not grant administrators everywhere.
type Operator struct{}

var _ Gate = Operator{}

// Actor is an administrator of no particular organisation.
func (Operator) Actor() Actor { return Actor{Kind: PrincipalAdmin} }

// Authorize grants what the table grants administrators on every organisation.
func (Operator) Authorize(_ context.Context, action Action, _ Target, _ string) error {
	if !AdminFor(PrincipalAdmin, action) {
		return E(KindForbidden, "not allowed: "+string(action)+" is not an administrator's action")
	}
	return nil
}

// ListOrg is the organisation a listing of action covers: org as asked for
// a caller granted every organisation ("" is all of them), the caller's own
// organisation otherwise. Asking for another organisation than one's own
// is refused (and audited by the gate).
func ListOrg(ctx context.Context, g Gate, action Action, org, subject string) (string, error) {
	act := g.Actor()
	if Granted(act.Kind, action) != ReachAll && org == "" {
		org = act.OrgID
	}
	if err := g.Authorize(ctx, action, Target{OrgID: org}, subject); err != nil {
		return "", err
	}
	return org, nil
}
