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

// CheckObjectID refuses, as not found, an id no object can have (checkID:
// empty, longer than MaxIDLen, control or path characters) before it
// reaches the store or the audit log.
func CheckObjectID(id, what string) error { return checkID(what, id) }

// ActorName names who acted in an audit reason, as recordChange does.
func ActorName(a Actor) string {
	if a.PrincipalID == "" {
		return "the operator (command line)"
	}
	return string(a.Kind) + " " + a.PrincipalID
}

// FromRequest adds to e the client address and request id of the request
// g carries, if it carries one (the admin API's gate does).
func FromRequest(g Gate, e AuditEvent) AuditEvent {
	if ri, ok := g.(requestInfo); ok {
		e.RemoteAddr, e.RequestID = ri.RemoteAddr(), ri.RequestID()
	}
	return e
}
