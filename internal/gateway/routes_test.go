package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// TestStoredRoutes: routes created through the node's admin are checked
// (alone, against the configured and stored ones, against the node's
// schemes and built-in paths), audited, served at once here and by
// another gateway on the same store after its reload; configured routes
// cannot be deleted.
func TestStoredRoutes(t *testing.T) {
	up := newUpstream(t, "one")
	conf := route("conf", "/conf")
	conf.Upstreams = []string{up.URL}
	f := newFixture(t, conf)
	base := f.serve(t, httpapi.Limits{})
	ctx := context.Background()
	admin := f.gw.Admin()
	who := gateway.Actor{OrgID: core.SystemOrgID, PrincipalID: "admin-1", RemoteAddr: "192.0.2.1"}

	stored := route("orders", "/orders")
	stored.Upstreams = []string{up.URL}
	info, err := admin.Create(ctx, who, stored)
	if err != nil || info.Source != gateway.SourceDatabase || info.CreatedBy != "admin-1" {
		t.Fatalf("create: %+v %v", info, err)
	}
	// Served at once by this node.
	if status, _, _ := call(t, "GET", base+"/orders/1", nil, "X-Test-Bearer", "alice"); status != 200 {
		t.Fatalf("stored route on its node: %d", status)
	}
	for _, tc := range []struct {
		name string
		r    func() gateway.Route
		kind core.Kind
		want string
	}{
		{"same name as a configured route", func() gateway.Route { r := route("conf", "/elsewhere"); return r }, core.KindConflict, `"conf" exists`},
		{"same name as a stored route", func() gateway.Route { return route("orders", "/elsewhere") }, core.KindConflict, `"orders" exists`},
		{"same match as a stored route", func() gateway.Route { return route("orders2", "/orders") }, core.KindConflict, "matches the same requests"},
		{"same match as a configured route", func() gateway.Route { return route("conf2", "/conf") }, core.KindConflict, "matches the same requests"},
		{"invalid", func() gateway.Route { r := route("bad", "/bad/"); r.Upstreams = []string{"ftp://x"}; return r }, core.KindInvalidInput, "must not end with /"},
		{"built-in path", func() gateway.Route { return route("items", "/demo/items") }, core.KindInvalidInput, "served by authgate itself"},
		{"scheme not enabled here", func() gateway.Route { return route("pop", "/pop-api", "taap-pop") }, core.KindInvalidInput, "scheme taap-pop is not enabled"},
	} {
		_, err := admin.Create(ctx, who, tc.r())
		if core.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.kind, tc.want)
		}
	}
	list, err := admin.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "conf" || list[0].Source != gateway.SourceConfig || list[1].Name != "orders" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if got, err := admin.Get(ctx, "orders"); err != nil || got.PathPrefix != "/orders" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := admin.Get(ctx, "none"); core.KindOf(err) != core.KindNotFound {
		t.Fatalf("get unknown: %v", err)
	}
	// Another gateway on the same store serves it after its reload.
	set := scheme.Set{}
	set.Add(f.a)
	other, err := gateway.New(gateway.DefaultConfig(), gateway.Deps{Schemes: set, Routes: f.svc.Store, Docs: f.svc.Store, Seal: f.svc.Keys, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if names := routeNames(other.Routes()); names != "orders" {
		t.Fatalf("other node serves %q", names)
	}
	// Deletes: a configured route cannot be; a stored one is gone at once.
	if err := admin.Delete(ctx, who, "conf"); core.KindOf(err) != core.KindConflict {
		t.Fatalf("delete a configured route: %v", err)
	}
	if err := admin.Delete(ctx, who, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, who, "orders"); core.KindOf(err) != core.KindNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	if status, _, _ := call(t, "GET", base+"/orders/1", nil, "X-Test-Bearer", "alice"); status != 404 {
		t.Fatalf("deleted route still served: %d", status)
	}
	// Both changes are audited with who made them.
	events, err := f.svc.Store.ListAudit(ctx, core.AuditFilter{Protocol: "gateway", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if e.Subject == "route orders" && e.PrincipalID == "admin-1" && e.RemoteAddr == "192.0.2.1" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "delete,create" && strings.Join(actions, ",") != "create,delete" {
		t.Fatalf("audited %v", actions)
	}
}

// TestStoredRouteNotServable: a stored route a node cannot serve (its
// scheme's family is off there) is listed with the problem and left out
// of the table; the rest are served.
func TestStoredRouteNotServable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cliAdmin := gateway.NewRouteAdmin(gateway.DefaultConfig(), f.svc.Store, f.svc.Audit, f.clock) // authgate route: no node checks
	for _, r := range []gateway.Route{route("pop", "/pop-api", "taap-pop"), route("fine", "/fine")} {
		if _, err := cliAdmin.Create(ctx, gateway.Actor{RemoteAddr: "cli"}, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.gw.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if names := routeNames(f.gw.Routes()); names != "fine" {
		t.Fatalf("served %q", names)
	}
	list, err := f.gw.Admin().List(ctx)
	if err != nil || len(list) != 2 || list[1].Name != "pop" || !strings.Contains(list[1].Problem, "taap-pop is not enabled") || list[0].Problem != "" {
		t.Fatalf("list %+v %v", list, err)
	}
	if list[0].CreatedBy != "cli" {
		t.Fatalf("created_by %q", list[0].CreatedBy)
	}
}

func routeNames(rs []gateway.Route) string {
	var n []string
	for _, r := range rs {
		n = append(n, r.Name)
	}
	return strings.Join(n, ",")
}
