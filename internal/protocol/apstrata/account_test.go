package apstrata_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/testutil/admintest"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// TestAccountOperations: every operation on accounts and members, per
// principal kind and organisation: reads for the account's own owners and
// users, changes for administrators, refusals audited; unknown and huge
// ids are not found.
func TestAccountOperations(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	ctx := context.Background()
	ops := apstrata.NewAccounts(svc)
	op := core.Operator{}
	acct, err := ops.CreateAccount(ctx, op, apstrata.CreateAccountRequest{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ops.CreateAccount(ctx, op, apstrata.CreateAccountRequest{Name: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.CreateMember(ctx, op, acct.AuthKey, apstrata.CreateMemberRequest{Name: "jane", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	adminOrg := admintest.Org(t, svc, "operators")
	gates := map[string]core.Gate{
		"admin":         admintest.Gate{Act: admintest.Actor(t, svc, adminOrg, core.PrincipalAdmin), Svc: svc},
		"owner":         admintest.Gate{Act: admintest.Actor(t, svc, acct.OrgID, core.PrincipalOwner), Svc: svc},
		"user":          admintest.Gate{Act: admintest.Actor(t, svc, acct.OrgID, core.PrincipalUser), Svc: svc},
		"device":        admintest.Gate{Act: admintest.Actor(t, svc, acct.OrgID, core.PrincipalDevice), Svc: svc},
		"partner":       admintest.Gate{Act: admintest.Actor(t, svc, acct.OrgID, core.PrincipalPartner), Svc: svc},
		"other's owner": admintest.Gate{Act: admintest.Actor(t, svc, other.OrgID, core.PrincipalOwner), Svc: svc},
	}
	type call func(g core.Gate) error
	read := func(g core.Gate) error { _, err := ops.GetAccount(ctx, g, acct.AuthKey); return err }
	listMembers := func(g core.Gate) error {
		_, err := ops.ListMembers(ctx, g, acct.AuthKey, apstrata.ListMembersRequest{})
		return err
	}
	getMember := func(g core.Gate) error { _, err := ops.GetMember(ctx, g, acct.AuthKey, "jane"); return err }
	create := func(g core.Gate) error {
		_, err := ops.CreateAccount(ctx, g, apstrata.CreateAccountRequest{Name: "new"})
		return err
	}
	addMember := func(g core.Gate) error {
		_, err := ops.CreateMember(ctx, g, acct.AuthKey, apstrata.CreateMemberRequest{Name: "m-" + core.NewID()[:6]})
		return err
	}
	listOther := func(g core.Gate) error {
		_, err := ops.ListAccounts(ctx, g, apstrata.ListAccountsRequest{OrgID: other.OrgID})
		return err
	}
	for _, tt := range []struct {
		name string
		op   call
		ok   []string // the gates allowed; every other is refused (forbidden)
		// lookup: the operation names the account, which another
		// organisation's owner is answered as not found (refusal audited).
		lookup bool
	}{
		{"get account", read, []string{"admin", "owner", "user"}, true},
		{"list members", listMembers, []string{"admin", "owner", "user"}, true},
		{"get member", getMember, []string{"admin", "owner", "user"}, true},
		{"create account", create, []string{"admin"}, false},
		{"create member", addMember, []string{"admin"}, false},
		{"list another organisation's", listOther, []string{"admin", "other's owner"}, false},
	} {
		for name, g := range gates {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				before := admintest.Refusals(t, svc)
				err := tt.op(g)
				allowed := false
				for _, n := range tt.ok {
					allowed = allowed || n == name
				}
				want := core.KindForbidden
				if tt.lookup && name == "other's owner" {
					want = core.KindNotFound
				}
				switch {
				case allowed && err != nil:
					t.Fatalf("refused: %v", err)
				case !allowed && core.KindOf(err) != want:
					t.Fatalf("err = %v, want %v", err, want)
				case !allowed && admintest.Refusals(t, svc) != before+1:
					t.Fatal("refusal not audited")
				}
			})
		}
	}

	// A non-admin's listing is its own organisation's.
	l, err := ops.ListAccounts(ctx, gates["owner"], apstrata.ListAccountsRequest{})
	if err != nil || l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != acct.AuthKey || l.Items[0].Name != "acme" {
		t.Fatalf("owner's listing: %+v, %v", l, err)
	}
	if l, err := ops.ListAccounts(ctx, gates["admin"], apstrata.ListAccountsRequest{}); err != nil || l.Total < 2 {
		t.Fatalf("admin's listing: %+v, %v", l, err)
	}
	for _, tt := range []struct {
		name string
		op   func() error
		kind core.Kind
	}{
		{"unknown account", func() error { _, err := ops.GetAccount(ctx, op, "nosuch"); return err }, core.KindNotFound},
		{"empty account", func() error { _, err := ops.GetAccount(ctx, op, ""); return err }, core.KindNotFound},
		{"huge account", func() error { _, err := ops.GetAccount(ctx, op, strings.Repeat("k", 100000)); return err }, core.KindNotFound},
		{"unknown member", func() error { _, err := ops.GetMember(ctx, op, acct.AuthKey, "nobody"); return err }, core.KindNotFound},
		{"member of another account", func() error { _, err := ops.GetMember(ctx, op, other.AuthKey, "jane"); return err }, core.KindNotFound},
		{"huge member", func() error { _, err := ops.GetMember(ctx, op, acct.AuthKey, strings.Repeat("m", 100000)); return err }, core.KindNotFound},
		{"delete unknown member", func() error { _, err := ops.DeleteMember(ctx, op, acct.AuthKey, "nobody"); return err }, core.KindNotFound},
		{"member twice", func() error {
			_, err := ops.CreateMember(ctx, op, acct.AuthKey, apstrata.CreateMemberRequest{Name: "jane"})
			return err
		}, core.KindConflict},
		{"empty account name", func() error {
			_, err := ops.CreateAccount(ctx, op, apstrata.CreateAccountRequest{Name: " "})
			return err
		}, core.KindInvalidInput},
		{"huge member name", func() error {
			_, err := ops.CreateMember(ctx, op, acct.AuthKey, apstrata.CreateMemberRequest{Name: strings.Repeat("m", 201)})
			return err
		}, core.KindInvalidInput},
	} {
		if err := tt.op(); core.KindOf(err) != tt.kind {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.kind)
		}
	}
}

// adminEnv is the Apstrata service and the admin API on one HTTPS server.
type adminEnv struct {
	*env
	adminTok, ownerTok, userTok, deviceTok, otherTok string // access tokens
	other                                            apstrata.Account
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	var mod *apstrata.Module
	e := agtest.Start(t, agtest.Options{ManualClock: start, TLS: true}, func(svc core.Services) []httpapi.Module {
		mod = apstrata.New(apstrata.DefaultConfig(), apstrata.DepsFrom(svc, httpapi.ClientAddr{}))
		return []httpapi.Module{mod, admintest.API(t, svc, apstrata.NewAccounts(svc).AdminRoutes())}
	})
	a := &adminEnv{env: &env{Env: e, mod: mod}}
	a.adminTok = admintest.Token(t, e.Svc, e.Admin.OrgID, core.PrincipalAdmin)
	var acct apstrata.Account
	if st, b := a.call(t, a.adminTok, "POST", apstrata.RouteAccounts, map[string]string{"name": "acme"}); st != 201 || json.Unmarshal(b, &acct) != nil || acct.Secret == "" {
		t.Fatalf("create account: %d %s", st, b)
	}
	a.acct = acct
	for _, m := range []struct {
		name   string
		device bool
		pw     *string
	}{{"jane.doe@example.com", false, &a.userPW}, {"dev-01", true, &a.devicePW}} {
		var created apstrata.Member
		st, b := a.call(t, a.adminTok, "POST", "/admin/apstrata/accounts/"+acct.AuthKey+"/members", map[string]any{"name": m.name, "device": m.device})
		if st != 201 || json.Unmarshal(b, &created) != nil || created.Secret == "" || created.Name != m.name {
			t.Fatalf("create member %s: %d %s", m.name, st, b)
		}
		*m.pw = created.Secret
	}
	other, err := apstrata.CreateAccount(context.Background(), e.Svc, "globex")
	if err != nil {
		t.Fatal(err)
	}
	a.other = other
	a.ownerTok = admintest.Token(t, e.Svc, acct.OrgID, core.PrincipalOwner)
	a.userTok = admintest.Token(t, e.Svc, acct.OrgID, core.PrincipalUser)
	a.deviceTok = admintest.Token(t, e.Svc, acct.OrgID, core.PrincipalDevice)
	a.otherTok = admintest.Token(t, e.Svc, other.OrgID, core.PrincipalOwner)
	return a
}

func (a *adminEnv) call(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	return admintest.Call(t, a.Srv.Client(), a.URL, token, method, path, body)
}

// TestAdminAccountRoutes: the account and member routes end to end — an
// admin creates, lists, shows and deletes; an owner and a user of the
// account read it; a listing of a non-admin is its own organisation's.
func TestAdminAccountRoutes(t *testing.T) {
	a := newAdminEnv(t)
	var list struct {
		Items      []apstrata.AccountView `json:"items"`
		Total      int                    `json:"total"`
		NextCursor string                 `json:"next_cursor"`
	}
	for _, tt := range []struct {
		token string
		want  int
	}{{a.adminTok, 2}, {a.ownerTok, 1}, {a.userTok, 1}, {a.otherTok, 1}} {
		st, b := a.call(t, tt.token, "GET", apstrata.RouteAccounts, nil)
		if st != 200 || json.Unmarshal(b, &list) != nil || list.Total != tt.want || len(list.Items) != tt.want {
			t.Fatalf("list: %d %s, want %d accounts", st, b, tt.want)
		}
		if strings.Contains(string(b), a.acct.Secret) || strings.Contains(string(b), `"secret"`) {
			t.Fatalf("a listing shows a secret: %s", b)
		}
	}
	if st, b := a.call(t, a.adminTok, "GET", apstrata.RouteAccounts+"?limit=1", nil); st != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 || list.NextCursor != "1" {
		t.Fatalf("first page: %d %s", st, b)
	}
	list.NextCursor = ""
	if st, b := a.call(t, a.adminTok, "GET", apstrata.RouteAccounts+"?limit=1&cursor=1", nil); st != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 || list.NextCursor != "" {
		t.Fatalf("last page: %d %s", st, b)
	}
	var got apstrata.AccountView
	if st, b := a.call(t, a.userTok, "GET", "/admin/apstrata/accounts/"+a.acct.AuthKey, nil); st != 200 || json.Unmarshal(b, &got) != nil || got.OrgID != a.acct.OrgID || got.Name != "acme" {
		t.Fatalf("user reads its account: %d %s", st, b)
	}
	var members struct {
		Items []apstrata.MemberView `json:"items"`
		Total int                   `json:"total"`
	}
	if st, b := a.call(t, a.ownerTok, "GET", "/admin/apstrata/accounts/"+a.acct.AuthKey+"/members", nil); st != 200 || json.Unmarshal(b, &members) != nil || members.Total != 2 {
		t.Fatalf("owner lists members: %d %s", st, b)
	}
	var m apstrata.MemberView
	if st, b := a.call(t, a.ownerTok, "GET", "/admin/apstrata/accounts/"+a.acct.AuthKey+"/members/dev-01", nil); st != 200 || json.Unmarshal(b, &m) != nil || m.Kind != core.PrincipalDevice {
		t.Fatalf("owner reads a device: %d %s", st, b)
	}
	// Deleting a member: gone from the listing, shown with deleted_at.
	if st, b := a.call(t, a.adminTok, "DELETE", "/admin/apstrata/accounts/"+a.acct.AuthKey+"/members/dev-01", nil); st != 200 || !strings.Contains(string(b), `"credentials_revoked":1`) {
		t.Fatalf("delete member: %d %s", st, b)
	}
	if st, b := a.call(t, a.ownerTok, "GET", "/admin/apstrata/accounts/"+a.acct.AuthKey+"/members", nil); st != 200 || json.Unmarshal(b, &members) != nil || members.Total != 1 {
		t.Fatalf("members after a delete: %d %s", st, b)
	}
	if st, b := a.call(t, a.ownerTok, "GET", "/admin/apstrata/accounts/"+a.acct.AuthKey+"/members/dev-01", nil); st != 200 || json.Unmarshal(b, &m) != nil || m.DeletedAt == nil || !m.Disabled {
		t.Fatalf("deleted member: %d %s", st, b)
	}
	if _, err := a.device(sdk.PHP).Call(context.Background(), "POST", "VerifyCredentials", nil); err == nil {
		t.Fatal("a deleted device's signature is accepted")
	}
}

// TestAttack_ApstrataAdminRoutes: another organisation's account as an
// owner (404 as an unknown one, the refusal audited), another
// organisation in the query (403, audited), changes by owners, users and devices (403), an
// Apstrata token in place of an access token (401), unknown and huge ids
// (404), huge and malformed bodies; and after a delete the account's
// signatures and tokens are refused by the Apstrata service itself.
func TestAttack_ApstrataAdminRoutes(t *testing.T) {
	a := newAdminEnv(t)
	ctx := context.Background()
	// Tokens issued before the delete, through the real service.
	tokenOf := func(c *sdk.Client) string {
		r, err := c.Call(ctx, "POST", "GenerateToken", vals("apsdb.tokenExpires", "600"))
		if err != nil {
			t.Fatal(err)
		}
		return r.Result["apsdb.authToken"]
	}
	userToken := tokenOf(a.user(sdk.PHP))
	acctPath := "/admin/apstrata/accounts/" + a.acct.AuthKey
	for _, tt := range []struct {
		name, token, method, path string
		body                      any
		status                    int
		audited                   bool
	}{
		{"another organisation's account", a.otherTok, "GET", acctPath, nil, 404, true},
		{"another organisation's members", a.otherTok, "GET", acctPath + "/members", nil, 404, true},
		{"another organisation's member", a.otherTok, "GET", acctPath + "/members/jane.doe@example.com", nil, 404, true},
		{"another organisation in the query", a.ownerTok, "GET", apstrata.RouteAccounts + "?org=" + a.other.OrgID, nil, 403, true},
		{"owner deletes its account", a.ownerTok, "DELETE", acctPath, nil, 403, true},
		{"user deletes a member", a.userTok, "DELETE", acctPath + "/members/jane.doe@example.com", nil, 403, true},
		{"owner creates a member", a.ownerTok, "POST", acctPath + "/members", map[string]string{"name": "x"}, 403, true},
		{"device reads", a.deviceTok, "GET", acctPath, nil, 403, true},
		{"no token", "", "GET", acctPath, nil, 401, false},
		{"apstrata token", userToken, "GET", acctPath, nil, 401, false},
		{"apstrata bearer header", base64.StdEncoding.EncodeToString([]byte(a.acct.AuthKey + ":jane.doe@example.com:" + userToken)), "GET", acctPath, nil, 401, false},
		{"unknown account", a.adminTok, "GET", "/admin/apstrata/accounts/nosuch", nil, 404, false},
		{"huge account id", a.adminTok, "GET", "/admin/apstrata/accounts/" + strings.Repeat("k", 4000), nil, 404, false},
		{"unknown member", a.adminTok, "DELETE", acctPath + "/members/nobody", nil, 404, false},
		{"members of an unknown account", a.adminTok, "GET", "/admin/apstrata/accounts/nosuch/members", nil, 404, false},
		{"huge body", a.adminTok, "POST", apstrata.RouteAccounts, []byte(`{"name":"` + strings.Repeat("a", 100<<10) + `"}`), 413, false},
		{"unknown field", a.adminTok, "POST", apstrata.RouteAccounts, []byte(`{"name":"x","owner":"y"}`), 400, false},
		{"not JSON", a.adminTok, "POST", apstrata.RouteAccounts, []byte(`name=x`), 400, false},
		{"unknown parameter", a.adminTok, "GET", apstrata.RouteAccounts + "?orgid=x", nil, 400, false},
		{"bad cursor", a.adminTok, "GET", apstrata.RouteAccounts + "?cursor=-1", nil, 400, false},
		{"bad boolean", a.adminTok, "GET", apstrata.RouteAccounts + "?include_deleted=maybe", nil, 400, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := admintest.Refusals(t, a.Svc)
			st, b := a.call(t, tt.token, tt.method, tt.path, tt.body)
			var e struct{ Error string }
			if st != tt.status || json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Fatalf("%d %.300s, want %d with an error", st, b, tt.status)
			}
			if got := admintest.Refusals(t, a.Svc) > before; got != tt.audited {
				t.Fatalf("audited refusal: %v, want %v", got, tt.audited)
			}
		})
	}

	// Delete the account: everything of it stops working at once.
	if st, b := a.call(t, a.adminTok, "DELETE", acctPath, nil); st != 200 || !strings.Contains(string(b), `"credentials_revoked":3`) {
		t.Fatalf("delete: %d %s", st, b)
	}
	for name, c := range map[string]*sdk.Client{"owner": a.owner(sdk.PHP), "user": a.user(sdk.PHP), "owner, simple": a.owner(sdk.PHP)} {
		if name == "owner, simple" {
			c.Simple = true
		}
		r, err := c.Call(ctx, "POST", "VerifyCredentials", nil)
		wantFailure(t, r, err, http.StatusBadRequest, "INVALID_SIGNATURE", "Invalid credentials")
	}
	r, err := a.client(sdk.PHP).CallWithToken(ctx, "POST", "VerifyCredentials", "jane.doe@example.com", userToken, nil)
	wantFailure(t, r, err, http.StatusBadRequest, "INVALID_SIGNATURE", "Invalid credentials")
	// Shown as deleted; deleting again revokes nothing more.
	var v apstrata.AccountView
	if st, b := a.call(t, a.adminTok, "GET", acctPath, nil); st != 200 || json.Unmarshal(b, &v) != nil || v.DeletedAt == nil {
		t.Fatalf("deleted account: %d %s", st, b)
	}
	if st, b := a.call(t, a.adminTok, "DELETE", acctPath, nil); st != 200 || !strings.Contains(string(b), `"credentials_revoked":0`) {
		t.Fatalf("second delete: %d %s", st, b)
	}
	if st, b := a.call(t, a.adminTok, "POST", acctPath+"/members", map[string]string{"name": "late"}); st != 409 {
		t.Fatalf("member of a deleted account: %d %s", st, b)
	}
	var list struct{ Total int }
	if st, b := a.call(t, a.adminTok, "GET", apstrata.RouteAccounts, nil); st != 200 || json.Unmarshal(b, &list) != nil || list.Total != 1 {
		t.Fatalf("listing after the delete: %d %s", st, b)
	}
}
