package oauth2_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// normaliser replaces values that differ per run (keys, secrets, tokens,
// the server's address) by stable placeholders.
type normaliser struct {
	repl  map[string]string
	count map[string]int
}

func (n *normaliser) name(value, kind string) {
	if _, ok := n.repl[value]; ok || value == "" {
		return
	}
	n.count[kind]++
	n.repl[value] = fmt.Sprintf("<%s_%d>", kind, n.count[kind])
}

func (n *normaliser) apply(s string) string {
	vals := make([]string, 0, len(n.repl))
	for v := range n.repl {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		s = strings.ReplaceAll(s, v, n.repl[v])
	}
	return s
}

// learn records the volatile fields of a JSON body.
func (n *normaliser) learn(body []byte) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok {
					switch k {
					case "access_token":
						n.name(s, "ACCESS_TOKEN")
					case "refresh_token":
						n.name(s, "REFRESH_TOKEN")
					case "Key":
						n.name(s, "KEY")
					case "Secret":
						n.name(s, "SECRET")
					}
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

func (n *normaliser) render(r resp) string {
	n.learn(r.Body)
	var pretty bytes.Buffer
	body := r.Body
	if json.Indent(&pretty, bytes.TrimSpace(r.Body), "", "  ") == nil {
		body = pretty.Bytes()
	}
	return n.apply(fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n%s\n", r.Status, r.Header.Get("Content-Type"), body))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestDeviceServerDocumentedExamples replays the requests of the device
// server's authentication guide (seed 004) and compares the responses with
// golden files that follow the documented examples.
func TestDeviceServerDocumentedExamples(t *testing.T) {
	for _, shape := range []string{"flat", "wrapped"} {
		t.Run(shape, func(t *testing.T) {
			e := start(t, agtest.Options{}, true, func(c *oauth2.Config) { c.DeviceServerResponse = shape })
			n := &normaliser{repl: map[string]string{e.URL: "http://localhost:8080"}, count: map[string]int{}}
			n.name(e.Admin.Key, "ADMIN_KEY")
			Form := formHeader()
			check := func(name string, r resp) resp {
				t.Helper()
				if shape == "wrapped" && !strings.HasPrefix(name, "token_") {
					n.learn(r.Body)
					return r // the shape only changes token responses
				}
				golden(t, name, n.render(r))
				return r
			}

			// GET / without authentication: authenticate and versions only.
			check("entry_anonymous", e.do("GET", "/", nil, ""))

			// POST /oauth/token, grant_type=password&username={key}&password={secret} (no Accept: RFC 6749 JSON).
			adminTok := check("token_password", e.do("POST", "/oauth/token", Form,
				url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode())).json(t)["access_token"].(string)

			// The same request asking for the device server's token type.
			check("token_password_devserver_"+shape, e.do("POST", "/oauth/token", with(Form, "Accept", "application/vnd.imgtec.com.oauthtoken+json"),
				url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode()))

			// POST /accesskeys {"Name":"My Organisation Name"} as the admin: a new organisation's user key.
			e.Clock.Advance(time.Second)
			created := check("accesskey_create", e.do("POST", "/accesskeys", with(bearer(adminTok), "Content-Type", "application/vnd.imgtec.accesskey+json"),
				`{"Name":"My Organisation Name"}`)).json(t)
			key, secret := created["Key"].(string), created["Secret"].(string)

			userRes := e.do("POST", "/oauth/token", Form, url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}.Encode())
			n.learn(userRes.Body)
			user := userRes.json(t)
			userTok, userRefresh := user["access_token"].(string), user["refresh_token"].(string)
			for _, name := range []string{"Test Key 2", "Test Key 3"} {
				e.Clock.Advance(time.Second) // listing order is creation order
				n.learn(e.do("POST", "/accesskeys", with(bearer(userTok), "Content-Type", "application/json"), `{"Name":"`+name+`"}`).Body)
			}
			// GET /accesskeys, Accept: application/vnd.imgtec.accesskeys+json
			check("accesskeys_list", e.do("GET", "/accesskeys", with(bearer(userTok), "Accept", "application/vnd.imgtec.accesskeys+json"), ""))
			// GET /accesskeys/{key}, Accept: application/vnd.imgtec.accesskey+json
			check("accesskey_get", e.do("GET", "/accesskeys/"+key, with(bearer(userTok), "Accept", "application/vnd.imgtec.accesskey+json"), ""))
			// PUT /accesskeys/{key}, Content-Type: application/vnd.imgtec.accesskey+json {"Name":"NewName"}
			check("accesskey_rename", e.do("PUT", "/accesskeys/"+key, with(bearer(userTok), "Content-Type", "application/vnd.imgtec.accesskey+json"), `{"Name": "NewName"}`))
			// GET / with a valid token.
			check("entry_authenticated", e.do("GET", "/", bearer(userTok), ""))
			check("entry_admin", e.do("GET", "/", bearer(adminTok), ""))
			check("versions", e.do("GET", "/versions", nil, ""))

			// POST /oauth/token grant_type=refresh_token with Accept: application/vnd.imgtec.com.oauthtoken+json
			check("token_refresh_devserver_"+shape, e.do("POST", "/oauth/token", with(Form, "Accept", "application/vnd.imgtec.com.oauthtoken+json"),
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {userRefresh}}.Encode()))
		})
	}
}
