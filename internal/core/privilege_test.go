package core

import (
	"context"
	"flag"
	"os"
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

// TestSecurityDocPrintsPrivilegeTable keeps the table in docs/security.md
// equal to the one the code enforces (go test -run ThisTest -update-doc
// rewrites it).
func TestSecurityDocPrintsPrivilegeTable(t *testing.T) {
	const path = "../../docs/security.md"
	const begin, end = "<!-- privilege-table:begin -->\n", "<!-- privilege-table:end -->"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, strings.TrimSpace(begin), end)
	}
	want := privilegeTableMarkdown()
	if got := s[i+len(begin) : j]; got != want {
		if *updateDoc {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the privilege table in %s differs from the code's; run with -update-doc. Want:\n%s", path, want)
	}
}

var updateDoc = flag.Bool("update-doc", false, "rewrite the privilege table in docs/security.md")

// privilegeTableMarkdown renders PrivilegeTable as a Markdown table, one
// column per principal kind.
func privilegeTableMarkdown() string {
	kinds := []PrincipalKind{PrincipalAdmin, PrincipalOwner, PrincipalUser, PrincipalDevice, PrincipalApplication, PrincipalPartner}
	var b strings.Builder
	b.WriteString("| action |")
	for _, k := range kinds {
		b.WriteString(" " + string(k) + " |")
	}
	b.WriteString("\n|---|")
	for range kinds {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, p := range PrivilegeTable() {
		b.WriteString("| `" + string(p.Action) + "` |")
		for _, k := range kinds {
			cell := "–"
			if r := p.Grants[k]; r != ReachNone {
				cell = r.String()
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
