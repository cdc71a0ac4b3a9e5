package agtest

import (
	"testing"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// AdminAPI mounts routes on one admin API as serve does (svc's bearer
// authentication and privilege check, addr's client addresses), for a
// test server's modules; a malformed route fails the test.
func AdminAPI(t testing.TB, svc core.Services, addr httpapi.ClientAddr, routes ...[]adminapi.Route) *adminapi.API {
	t.Helper()
	a, err := adminapi.New(adminapi.Deps{Bearer: svc.BearerAuth(), Authz: svc.Authz, Addr: addr, Log: svc.Log}, routes...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
