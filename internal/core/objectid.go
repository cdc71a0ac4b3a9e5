package core

import (
	"context"
	"errors"
)

// RefuseUngranted refuses (and audits, through the gate) a caller whose
// kind is not granted action at all, before a lifecycle operation looks
// anything up: such a caller learns nothing about which ids exist.
func RefuseUngranted(ctx context.Context, g Gate, action Action, subject string) error {
	if Granted(g.Actor().Kind, action) == ReachNone {
		return g.Authorize(ctx, action, Target{}, subject)
	}
	return nil
}

// Lookup finds the object a lifecycle operation names by a
// caller-supplied identifier and checks g may perform action on it,
// without telling the caller whether an object it may not see exists:
//   - a kind not granted action at all is refused (KindForbidden, audited)
//     before load runs, whatever the identifier names;
//   - load reads the object (checking the identifier's form first) and
//     returns its target; any KindNotFound error of load is answered
//     notFound;
//   - a refusal because the object is outside the caller's reach
//     (ErrOutOfReach) is audited by the gate with its real reason and
//     answered notFound as well (NotFoundIfOutOfReach).
//
// notFound is the operation's one answer for an identifier that names
// nothing, so an object the caller may not see and one that does not
// exist get the same error. Other errors pass unchanged. subject names
// the object in the audit log (never a secret; LogSafe for raw input).
func Lookup(ctx context.Context, g Gate, action Action, subject string, notFound error, load func(ctx context.Context) (Target, error)) error {
	if err := RefuseUngranted(ctx, g, action, subject); err != nil {
		return err
	}
	t, err := load(ctx)
	if KindOf(err) == KindNotFound {
		return notFound
	}
	if err != nil {
		return err
	}
	return NotFoundIfOutOfReach(g.Authorize(ctx, action, t, subject), notFound)
}

// NotFoundIfOutOfReach answers notFound for a refusal because the target
// is outside the caller's reach (ErrOutOfReach), err otherwise: the one
// rule by which an object the caller may not see is not found. The
// refusal was audited when it was made.
func NotFoundIfOutOfReach(err, notFound error) error {
	if err != nil && errors.Is(err, ErrOutOfReach) {
		return notFound
	}
	return err
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
