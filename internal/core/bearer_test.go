package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseBearer: the Bearer scheme case-insensitively, one token68 of
// bounded length; anything else is absent (another scheme) or malformed.
func TestParseBearer(t *testing.T) {
	for _, tc := range []struct {
		header  string
		value   string
		present bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc==", "abc==", true},
		{"BEARER  a-b.c_d~e+f/g ", "a-b.c_d~e+f/g", true},
		{"", "", false},
		{"Basic YTpi", "", false},
		{"Bearerabc", "", false},
		{"Bearer", "", true},
		{"Bearer ", "", true},
		{"Bearer a b", "", true},
		{"Bearer a\"b", "", true},
		{"Bearer ==", "", true},
		{"Bearer " + strings.Repeat("a", MaxBearerLen+1), "", true},
	} {
		v, p := ParseBearer(tc.header)
		if v != tc.value || p != tc.present {
			t.Errorf("ParseBearer(%.40q) = %q, %v; want %q, %v", tc.header, v, p, tc.value, tc.present)
		}
	}
}

type fakeTokens map[string]Token

func (f fakeTokens) LookupShared(_ context.Context, kind TokenKind, v string) (*Token, error) {
	t, ok := f[v]
	if !ok || t.Kind != kind {
		return nil, E(KindUnauthenticated, "invalid token")
	}
	return &t, nil
}

type fakePrincipals map[string]Principal

func (f fakePrincipals) GetPrincipal(_ context.Context, id string) (Principal, error) {
	p, ok := f[id]
	if !ok {
		return Principal{}, E(KindNotFound, "no principal")
	}
	return p, nil
}

// TestBearerAuthAdmin: Authenticate takes the kind the token records;
// Admin reads the holder afresh and requires the action across every
// organisation; refusals are audited with the adapter's protocol.
func TestBearerAuthAdmin(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	tokens := fakeTokens{
		"adm":   {ID: "t1", Kind: TokenAccess, OrgID: SystemOrgID, PrincipalID: "a", PrincipalKind: PrincipalAdmin, ExpiresAt: &exp},
		"usr":   {ID: "t2", Kind: TokenAccess, OrgID: "o", PrincipalID: "u", PrincipalKind: PrincipalUser, ExpiresAt: &exp},
		"forge": {ID: "t3", Kind: TokenAccess, OrgID: "o", PrincipalID: "u", PrincipalKind: PrincipalAdmin, ExpiresAt: &exp},
		"off":   {ID: "t4", Kind: TokenAccess, OrgID: SystemOrgID, PrincipalID: "off", PrincipalKind: PrincipalAdmin, ExpiresAt: &exp},
		"rt":    {ID: "t5", Kind: TokenRefresh, OrgID: SystemOrgID, PrincipalID: "a", PrincipalKind: PrincipalAdmin, ExpiresAt: &exp},
	}
	principals := fakePrincipals{
		"a":   {ID: "a", OrgID: SystemOrgID, Kind: PrincipalAdmin},
		"u":   {ID: "u", OrgID: "o", Kind: PrincipalUser},
		"off": {ID: "off", OrgID: SystemOrgID, Kind: PrincipalAdmin, Disabled: true},
	}
	var audit recordedEvents
	b := NewBearerAuth(tokens, principals, &audit, nil)
	ctx := context.Background()
	req := func(h string) BearerRequest {
		return BearerRequest{Header: h, Protocol: "test", RemoteAddr: "192.0.2.1"}
	}

	if c, err := b.Authenticate(ctx, req("Bearer forge")); err != nil || c.Kind != PrincipalAdmin {
		t.Fatalf("Authenticate takes the recorded kind: %+v %v", c, err)
	}
	if _, err := b.Authenticate(ctx, req("")); !errors.Is(err, ErrBearerMissing) || len(audit) != 0 { // a resource request that tried nothing
		t.Fatalf("missing: %v, %d audited", err, len(audit))
	}
	if _, err := b.Authenticate(ctx, req("Bearer a b")); !errors.Is(err, ErrBearerMalformed) || len(audit) != 1 {
		t.Fatalf("malformed: %v, %d audited", err, len(audit))
	}
	for _, tc := range []struct {
		header string
		kind   Kind // 0 (KindInternal): admitted
	}{
		{"Bearer adm", 0},
		{"Bearer usr", KindForbidden},
		{"Bearer forge", KindForbidden}, // the store says user
		{"Bearer off", KindUnauthenticated},
		{"Bearer rt", KindUnauthenticated},
		{"Bearer nope", KindUnauthenticated},
		{"", KindUnauthenticated}, // audited on an admin API
	} {
		audit = nil
		c, err := b.Admin(ctx, req(tc.header), ActCARead, "GET /ca/certificates")
		switch {
		case tc.kind == 0 && (err != nil || c.Kind != PrincipalAdmin):
			t.Errorf("%s: %+v %v", tc.header, c, err)
		case tc.kind != 0 && KindOf(err) != tc.kind:
			t.Errorf("%s: err %v, want kind %s", tc.header, err, tc.kind)
		case tc.kind != 0 && (len(audit) != 1 || audit[0].Protocol != "test" || audit[0].RemoteAddr != "192.0.2.1"):
			t.Errorf("%s: audit %+v", tc.header, audit)
		}
	}
	// A grant limited to the actor's organisation is not an admin grant.
	audit = nil
	if _, err := b.Admin(ctx, req("Bearer usr"), ActAccessKeysRead, "GET /accesskeys"); KindOf(err) != KindForbidden || len(audit) != 1 {
		t.Fatalf("organisation reach as admin: %v, %d audited", err, len(audit))
	}
}
