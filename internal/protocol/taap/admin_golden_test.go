package taap_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

// TestAdminAPIRefusalGolden pins the admin API's refusals in TAAP's own
// shape (the core admin check; no OAuth2 module involved): no token, an
// unknown token, and a valid token of a non-admin.
func TestAdminAPIRefusalGolden(t *testing.T) {
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{}))}
	})
	ctx := context.Background()
	p, err := env.Svc.CreatePrincipal(ctx, core.SystemOrgID, core.PrincipalUser, "not-an-admin")
	if err != nil {
		t.Fatal(err)
	}
	user, _, err := env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: p.OrgID, PrincipalID: p.ID, PrincipalKind: p.Kind, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, tc := range []struct{ name, auth string }{{"no token", ""}, {"unknown token", "Bearer nope"}, {"non-admin", "Bearer " + user}} {
		req, _ := http.NewRequest("POST", env.URL+taap.RouteClients, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out.WriteString("# " + tc.name + "\nHTTP " + strconv.Itoa(res.StatusCode) + "\nWWW-Authenticate: " + res.Header.Get("WWW-Authenticate") + "\n" + string(b) + "\n")
	}
	golden(t, "admin_refusals.http", []byte(out.String()))
}
