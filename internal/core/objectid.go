package core

import "context"

// RefuseUngranted refuses (and audits, through the gate) a caller whose
// kind is not granted action at all, before a lifecycle operation looks
// anything up: such a caller learns nothing about which ids exist.
func RefuseUngranted(ctx context.Context, g Gate, action Action, subject string) error {
	if Granted(g.Actor().Kind, action) == ReachNone {
		return g.Authorize(ctx, action, Target{}, subject)
	}
	return nil
}

// CheckObjectID refuses, as not found, an id no object can have (empty,
// longer than 128 bytes, or not printable ASCII) before it reaches the
// store or the audit log.
func CheckObjectID(id, what string) error {
	if id == "" || len(id) > 128 {
		return E(KindNotFound, "no such "+what)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return E(KindNotFound, "no such "+what)
		}
	}
	return nil
}

// ActorName names who acted in an audit reason: the principal, or
// "operator" for the command line (Operator acts as no principal).
func ActorName(a Actor) string {
	if a.PrincipalID == "" {
		return "operator"
	}
	return a.PrincipalID
}
