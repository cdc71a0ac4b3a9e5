package core

import (
	"context"
	"strings"
	"testing"
)

type recordedEvents []AuditEvent

func (r *recordedEvents) Record(_ context.Context, e AuditEvent) error {
	*r = append(*r, e)
	return nil
}

// TestAuthorizeReach: the table's reaches decide, with the ownership rules
// (own organisation; devices only their own objects), and every refusal
// is a KindForbidden error audited with its reason.
func TestAuthorizeReach(t *testing.T) {
	admin := Actor{Kind: PrincipalAdmin, OrgID: SystemOrgID, PrincipalID: "adm"}
	user := Actor{Kind: PrincipalUser, OrgID: "a", PrincipalID: "u"}
	dev := Actor{Kind: PrincipalDevice, OrgID: "a", PrincipalID: "d"}
	for _, tc := range []struct {
		name   string
		actor  Actor
		action Action
		target Target
		ok     bool
	}{
		{"admin in another organisation", admin, ActAccessKeysDelete, Target{OrgID: "b", PrincipalID: "x"}, true},
		{"user in its organisation", user, ActAccessKeysDelete, Target{OrgID: "a", PrincipalID: "other"}, true},
		{"user creating in its organisation", user, ActAccessKeysCreate, Target{}, true},
		{"user in another organisation", user, ActAccessKeysRead, Target{OrgID: "b", PrincipalID: "x"}, false},
		{"user on an admin-only action", user, ActCAIssue, Target{}, false},
		{"device creating a key", dev, ActAccessKeysCreate, Target{}, false},
		{"device deleting a key of its organisation", dev, ActAccessKeysDelete, Target{OrgID: "a", PrincipalID: "u"}, false},
		{"device deleting another device's certificate", dev, ActIdentitiesCertificatesDelete, Target{OrgID: "a", PrincipalID: "d2"}, false},
		{"device reading itself", dev, ActIdentitiesCurrentRead, Target{OrgID: "a", PrincipalID: "d"}, true},
		{"device reading another device", dev, ActIdentitiesCurrentRead, Target{OrgID: "a", PrincipalID: "d2"}, false},
		{"device using a resource as itself", dev, ActResourcesUse, Target{OrgID: "a", PrincipalID: "d"}, true},
		{"device with no target of its own", dev, ActResourcesUse, Target{OrgID: "a"}, false},
		{"device revoking another's token", dev, ActTokensRevoke, Target{OrgID: "a", PrincipalID: "u"}, false},
		{"owner minting for a member", Actor{Kind: PrincipalOwner, OrgID: "a", PrincipalID: "o"}, ActTokensIssueAs, Target{OrgID: "a", PrincipalID: "m"}, true},
		{"user minting for another", user, ActTokensIssueAs, Target{OrgID: "a", PrincipalID: "m"}, false},
		{"unknown action", admin, Action("nope"), Target{}, false},
		{"actor without a kind", Actor{OrgID: "a", PrincipalID: "u"}, ActResourcesUse, Target{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events recordedEvents
			err := NewAuthorizer(&events).Authorize(context.Background(), Authorization{Actor: tc.actor, Action: tc.action, Target: tc.target, Protocol: "test", Subject: "obj"})
			if tc.ok {
				if err != nil || len(events) != 0 {
					t.Fatalf("refused: %v (%d events)", err, len(events))
				}
				return
			}
			if KindOf(err) != KindForbidden {
				t.Fatalf("err = %v, want forbidden", err)
			}
			if len(events) != 1 || events[0].Action != AuditForbidden || events[0].Outcome != OutcomeFailure ||
				!strings.HasPrefix(events[0].Reason, string(tc.action)+": ") || events[0].Subject != "obj" || events[0].PrincipalID != tc.actor.PrincipalID {
				t.Fatalf("audit = %+v", events)
			}
		})
	}
}

// TestPrivilegeTableDevices: the only things a device is granted are its
// own identity, its own tokens and the resources it uses as itself.
func TestPrivilegeTableDevices(t *testing.T) {
	want := map[Action]Reach{ActIdentitiesCurrentRead: ReachSelf, ActTokensRevoke: ReachSelf, ActResourcesUse: ReachSelf}
	for _, p := range PrivilegeTable() {
		if got := p.Grants[PrincipalDevice]; got != want[p.Action] {
			t.Errorf("device on %s: %v, want %v", p.Action, got, want[p.Action])
		}
		for k := range p.Grants {
			if !k.Valid() {
				t.Errorf("%s grants unknown kind %q", p.Action, k)
			}
		}
	}
}

type countingPolicy struct{ calls int }

func (p *countingPolicy) Allow(context.Context, Access) error { p.calls++; return nil }

// TestAccessGate: every protected request passes the privilege table
// before the subscription policy; a request whose adapter did not say
// who the caller is, is refused (never waved through).
func TestAccessGate(t *testing.T) {
	var events recordedEvents
	policy := &countingPolicy{}
	g := AccessGate{Authz: NewAuthorizer(&events), Policy: policy}
	ok := Access{OrgID: "a", PrincipalID: "d", Kind: PrincipalDevice, Method: "GET", Path: "/r", Scheme: "mtls"}
	if err := g.Allow(context.Background(), ok); err != nil || policy.calls != 1 {
		t.Fatalf("device using a resource: %v (policy called %d times)", err, policy.calls)
	}
	noKind := ok
	noKind.Kind = ""
	if err := g.Allow(context.Background(), noKind); KindOf(err) != KindForbidden || policy.calls != 1 || len(events) != 1 {
		t.Fatalf("caller without a kind: %v (policy called %d times, %d audit events)", err, policy.calls, len(events))
	}
}
