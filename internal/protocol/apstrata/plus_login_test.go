package apstrata_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/apstrata"
	"github.com/authgate/authgate/internal/testutil/phptest"
	sdk "github.com/authgate/authgate/sdk/apstrata"
)

// phpCall runs testdata/php_sdk_action.php for GenerateToken as a user
// (default signature), which signs like the PHP SDK and
// puts apsws.user into the URL (or form body) unencoded.
func phpCall(t *testing.T, e *env, php, method, login, password string) (int, map[string]any) {
	t.Helper()
	ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
	return phpRun(t, php, "testdata/php_sdk_action.php", e.URL+"/apsdb/rest", e.acct.AuthKey, "GenerateToken", "default", login, password, ts, method)
}

// phpRun runs a PHP script of testdata that prints the HTTP status and an
// Apstrata JSON envelope, and returns the status and the result with the
// metadata as "metadata.*" entries.
func phpRun(t *testing.T, php, script string, args ...string) (int, map[string]any) {
	t.Helper()
	script, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, php, append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	status, body, _ := strings.Cut(string(out), "\n")
	code, err := strconv.Atoi(status)
	if err != nil {
		t.Fatalf("php output %q", out)
	}
	var env struct {
		Response struct {
			Metadata map[string]any `json:"metadata"`
			Result   map[string]any `json:"result"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("php got %d %q: %v", code, body, err)
	}
	r := env.Response.Result
	if r == nil {
		r = map[string]any{}
	}
	for k, v := range env.Response.Metadata {
		r["metadata."+k] = v
	}
	return code, r
}

// A login with "+" works from both SDKs: the PHP SDK sends it unencoded (the
// server decodes a space, finds no such user and tries the literal "+"),
// the Java SDK sends %2B. The decoded login wins when it exists.
func TestLoginWithPlus(t *testing.T) {
	php := phptest.Require(t)
	e := newEnv(t, true, nil)
	ctx := context.Background()
	const login = "jane.doe+1@example.com"
	pw, err := apstrata.CreateMember(ctx, e.Svc, e.acct.AuthKey, login, "", false)
	if err != nil {
		t.Fatal(err)
	}
	annSpacePW, err := apstrata.CreateMember(ctx, e.Svc, e.acct.AuthKey, "ann 2@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	annPlusPW, err := apstrata.CreateMember(ctx, e.Svc, e.acct.AuthKey, "ann+2@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, id, tok string) {
		t.Helper()
		v := do(e.user(sdk.PHP).CallWithToken(ctx, http.MethodGet, "VerifyCredentials", id, tok, nil)).ok(t)
		if v.Result["apsws.id"] != id {
			t.Fatalf("token authenticates as %q, want %q", v.Result["apsws.id"], id)
		}
	}
	for _, tc := range []struct {
		name, method, login, password string
		wantStatus                    int
		wantID                        string
	}{
		{"php GET unencoded +", http.MethodGet, login, pw, 200, login},
		{"php POST unencoded +", http.MethodPost, login, pw, 200, login},
		{"php wrong password", http.MethodGet, login, "wrong", 400, ""},
		{"php: an existing decoded login wins", http.MethodGet, "ann+2@example.com", annPlusPW, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Clock.Advance(time.Second)
			code, r := phpCall(t, e, php, tc.method, tc.login, tc.password)
			if code != tc.wantStatus {
				t.Fatalf("HTTP %d %v, want %d", code, r, tc.wantStatus)
			}
			if tc.wantID == "" {
				if r["metadata.errorCode"] != apstrata.CodeInvalidSignature {
					t.Fatalf("refusal %v, want %s", r, apstrata.CodeInvalidSignature)
				}
				return
			}
			tok, _ := r["apsdb.authToken"].(string)
			if tok == "" {
				t.Fatalf("no token: %v", r)
			}
			verify(t, tc.wantID, tok)
		})
	}
	for _, flavor := range []sdk.Flavor{sdk.PHP, sdk.Java} {
		for _, who := range []struct{ login, pw string }{{login, pw}, {"ann 2@example.com", annSpacePW}, {"ann+2@example.com", annPlusPW}} {
			e.Clock.Advance(time.Second)
			u := e.client(flavor)
			u.User, u.Password = who.login, who.pw
			tok := do(u.Call(ctx, http.MethodPost, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
			verify(t, who.login, tok)
		}
	}
	// Token mode with the id unencoded, as the PHP SDK builds it.
	e.Clock.Advance(time.Second)
	u := e.client(sdk.Java)
	u.User, u.Password = login, pw
	value := do(u.Call(ctx, http.MethodPost, "GenerateToken", nil)).ok(t).Result["apsdb.authToken"]
	resp, err := e.Srv.Client().Get(e.URL + "/apsdb/rest/" + e.acct.AuthKey + "/VerifyCredentials?apsws.authMode=token&apsws.id=" + login + "&apsdb.authToken=" + value + "&apsws.responseType=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r, err := sdk.Parse(b)
	if err != nil || resp.StatusCode != 200 || r.Result["apsws.id"] != login {
		t.Fatalf("token mode with unencoded id: %d %s", resp.StatusCode, b)
	}
}
