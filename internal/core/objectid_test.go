package core

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// authzGate is a Gate of act decided by z, as the admin API's request is.
type authzGate struct {
	act Actor
	z   *Authorizer
}

func (g authzGate) Actor() Actor { return g.act }

func (g authzGate) Authorize(ctx context.Context, action Action, target Target, subject string) error {
	return g.z.Authorize(ctx, Authorization{Actor: g.act, Action: action, Target: target, Subject: subject, Protocol: "test"})
}

var _ Gate = authzGate{}

// TestAuthorizeMarksOutOfReach: exactly the refusals of a granted action
// on a target beyond the grant's reach (another organisation's object,
// another principal's for a self grant) carry ErrOutOfReach; the kind, the
// reason shown and the audited reason are those of any refusal.
func TestAuthorizeMarksOutOfReach(t *testing.T) {
	owner := Actor{Kind: PrincipalOwner, OrgID: "a", PrincipalID: "o"}
	user := Actor{Kind: PrincipalUser, OrgID: "a", PrincipalID: "u"}
	dev := Actor{Kind: PrincipalDevice, OrgID: "a", PrincipalID: "d"}
	for _, tc := range []struct {
		name       string
		actor      Actor
		action     Action
		target     Target
		outOfReach bool
		reason     string
	}{
		{"another organisation's object", owner, ActPrincipalsRead, Target{OrgID: "b", PrincipalID: "x"}, true, "principals.read on another organisation's object"},
		{"another principal's object, self grant", user, ActTokensRevoke, Target{OrgID: "a", PrincipalID: "o"}, true, "not the user's own"},
		{"another device's object", dev, ActIdentitiesCurrentRead, Target{OrgID: "a", PrincipalID: "d2"}, true, "not the device's own"},
		{"not granted to the kind", dev, ActPrincipalsRead, Target{OrgID: "a", PrincipalID: "d"}, false, "principals.read is not granted to device principals"},
		{"not granted, another organisation", owner, ActPrincipalsDisable, Target{OrgID: "b", PrincipalID: "x"}, false, "principals.disable is not granted to owner principals"},
		{"unknown actor", Actor{Kind: PrincipalOwner}, ActPrincipalsRead, Target{OrgID: "b"}, false, "unknown actor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events recordedEvents
			err := NewAuthorizer(&events).Authorize(context.Background(), Authorization{Actor: tc.actor, Action: tc.action, Target: tc.target, Subject: "obj"})
			if KindOf(err) != KindForbidden || !errors.Is(err, ErrForbidden) {
				t.Fatalf("err = %v, want forbidden", err)
			}
			if got := errors.Is(err, ErrOutOfReach); got != tc.outOfReach {
				t.Fatalf("out of reach = %v, want %v (%v)", got, tc.outOfReach, err)
			}
			if r := ReasonOf(err); !strings.HasPrefix(r, "not allowed: ") || !strings.Contains(r, tc.reason) {
				t.Fatalf("reason %q, want %q", r, tc.reason)
			}
			if len(events) != 1 || !strings.Contains(events[0].Reason, tc.reason) || events[0].Action != AuditForbidden {
				t.Fatalf("audited %+v", events)
			}
		})
	}
}

// TestNotFoundIfOutOfReach: only a refusal marked ErrOutOfReach becomes
// the not-found answer; nil, other refusals and other errors pass.
func TestNotFoundIfOutOfReach(t *testing.T) {
	notFound := E(KindNotFound, "no such thing")
	marked := Wrap(KindForbidden, "not allowed: x on another organisation's object", ErrOutOfReach)
	plain := E(KindForbidden, "not allowed: x is not granted to device principals")
	internal := Wrap(KindInternal, "", errors.New("disk"))
	for _, tc := range []struct {
		name string
		in   error
		want error
	}{
		{"nil", nil, nil},
		{"out of reach", marked, notFound},
		{"out of reach, wrapped further", Wrap(KindForbidden, "again", marked), notFound},
		{"not granted", plain, plain},
		{"other error", internal, internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NotFoundIfOutOfReach(tc.in, notFound); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLookup: the one rule of the lifecycle lookups. An object the caller
// may not see and one that does not exist get the same error (the
// caller's not-found), the first refusal audited with its real reason; a
// kind not granted the action is refused before anything is loaded,
// whatever the id; administrators and the operator reach everything.
func TestLookup(t *testing.T) {
	ctx := context.Background()
	notFound := E(KindNotFound, "no such thing")
	storeNotFound := E(KindNotFound, "not found") // a store's own words
	objects := map[string]Target{
		"mine":   {OrgID: "a", PrincipalID: "o"},
		"theirs": {OrgID: "b", PrincipalID: "x"},
		"user's": {OrgID: "a", PrincipalID: "u"},
	}
	owner := Actor{Kind: PrincipalOwner, OrgID: "a", PrincipalID: "o"}
	user := Actor{Kind: PrincipalUser, OrgID: "a", PrincipalID: "u"}
	dev := Actor{Kind: PrincipalDevice, OrgID: "a", PrincipalID: "d"}
	admin := Actor{Kind: PrincipalAdmin, OrgID: SystemOrgID, PrincipalID: "adm"}
	for _, tc := range []struct {
		name    string
		actor   Actor // zero: the operator
		action  Action
		id      string
		want    error // nil, notFound, or any error of this kind
		kind    Kind
		loads   bool // whether load ran
		audited string
	}{
		{"own object", owner, ActPrincipalsRead, "mine", nil, 0, true, ""},
		{"another organisation's object", owner, ActPrincipalsRead, "theirs", notFound, 0, true, "principals.read on another organisation's object"},
		{"no such object", owner, ActPrincipalsRead, "nosuch", notFound, 0, true, ""},
		{"user, another organisation's object", user, ActCredentialsRead, "theirs", notFound, 0, true, "credentials.read on another organisation's object"},
		{"self grant, another principal's object", user, ActTokensRevoke, "mine", notFound, 0, true, "not the user's own"},
		{"self grant, no such object", user, ActTokensRevoke, "nosuch", notFound, 0, true, ""},
		{"self grant, its own object", user, ActTokensRevoke, "user's", nil, 0, true, ""},
		{"not granted, existing object", dev, ActPrincipalsRead, "mine", nil, KindForbidden, false, "principals.read is not granted to device principals"},
		{"not granted, no such object", dev, ActPrincipalsRead, "nosuch", nil, KindForbidden, false, "principals.read is not granted to device principals"},
		{"not granted to owners, another organisation's", owner, ActPrincipalsDisable, "theirs", nil, KindForbidden, false, "principals.disable is not granted to owner principals"},
		{"admin, another organisation's object", admin, ActPrincipalsDisable, "theirs", nil, 0, true, ""},
		{"admin, no such object", admin, ActPrincipalsRead, "nosuch", notFound, 0, true, ""},
		{"operator, any organisation's object", Actor{}, ActPrincipalsDisable, "theirs", nil, 0, true, ""},
		{"load fails", owner, ActPrincipalsRead, "broken", nil, KindUnavailable, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events recordedEvents
			var g Gate = authzGate{act: tc.actor, z: NewAuthorizer(&events)}
			if tc.actor == (Actor{}) {
				g = Operator{}
			}
			loaded := false
			err := Lookup(ctx, g, tc.action, "thing "+tc.id, notFound, func(context.Context) (Target, error) {
				loaded = true
				if tc.id == "broken" {
					return Target{}, E(KindUnavailable, "database down")
				}
				t, ok := objects[tc.id]
				if !ok {
					return Target{}, storeNotFound
				}
				return t, nil
			})
			switch {
			case tc.kind != 0:
				if KindOf(err) != tc.kind || err == notFound {
					t.Fatalf("err = %v, want kind %v", err, tc.kind)
				}
			case err != tc.want:
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if loaded != tc.loads {
				t.Fatalf("loaded = %v, want %v", loaded, tc.loads)
			}
			if tc.audited == "" {
				if len(events) != 0 {
					t.Fatalf("audited %+v", events)
				}
				return
			}
			if len(events) != 1 || !strings.Contains(events[0].Reason, tc.audited) || events[0].Subject != "thing "+tc.id {
				t.Fatalf("audited %+v, want one refusal with %q", events, tc.audited)
			}
		})
	}
}
