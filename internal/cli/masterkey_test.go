package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/authgate/authgate/internal/store"
)

// runCLIBoth runs authgate in-process and returns its exit code, stdout and stderr.
func runCLIBoth(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return m
}

// tokenGrant posts a token request and returns the access and refresh tokens.
func tokenGrant(t *testing.T, base string, form url.Values) (string, string) {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("%s grant: %d %v", form.Get("grant_type"), resp.StatusCode, err)
	}
	return body.AccessToken, body.RefreshToken
}

func passwordGrantURL(t *testing.T, base, key, secret string) (string, string) {
	t.Helper()
	return tokenGrant(t, base, url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
}

func bearerGet(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/accesskeys", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMasterKeyRotationCommands runs the documented procedure on one
// SQLite store with the real CLI and server: values made under the old
// key (access keys, a TPV app secret, the CA keys, tokens), a rotation
// refused while a running node lacks the new key, the node restarted with
// both keys, the rotation (refused while another holds the lock), status,
// a retirement refused until every keyed hash was used once, and a node
// with only the retired key refused. No key and no secret is ever printed
// or logged.
func TestMasterKeyRotationCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AUTHGATE_MASTER_KEY_REFRESH", "200ms")
	oldFile, newFile := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	gen := jsonOf(t, runCLI(t, "admin", "master-key", "generate", "--out", oldFile))
	oldID := gen["key_id"].(string)
	if code, _, msg := runCLIBoth("admin", "master-key", "generate", "--out", oldFile); code == 0 || !strings.Contains(msg, "never overwritten") {
		t.Fatalf("generate over an existing file: %d %s", code, msg)
	}
	data := filepath.Join(dir, "data")
	oldOnly := []string{"--data-dir", data, "--master-key-file", oldFile}
	both := []string{"--data-dir", data, "--master-key-file", newFile, "--previous-master-key-file", oldFile}

	org := jsonOf(t, runCLI(t, append([]string{"admin", "org", "create", "--name", "acme"}, oldOnly...)...))
	p := jsonOf(t, runCLI(t, append([]string{"admin", "principal", "create", "--org", org["id"].(string), "--name", "u"}, oldOnly...)...))
	cred := jsonOf(t, runCLI(t, append([]string{"admin", "credential", "create", "--principal", p["id"].(string)}, oldOnly...)...))
	key, secret := cred["lookup"].(string), cred["secret"].(string)
	runCLI(t, append([]string{"tpv", "brand", "create", "--name", "Acme Energy"}, oldOnly...)...)
	runCLI(t, append([]string{"ca", "init", "--bits", "2048", "--out", filepath.Join(dir, "root.pem")}, oldOnly...)...)

	s1 := startServer(t, oldOnly...)
	token, refresh := passwordGrantURL(t, s1.url, key, secret)
	newGen := jsonOf(t, runCLI(t, "admin", "master-key", "generate", "--out", newFile))
	newID := newGen["key_id"].(string)
	if code, _, msg := runCLIBoth(append([]string{"admin", "rotate-master-key"}, both...)...); code == 0 || !strings.Contains(msg, "do not know master key "+newID) {
		t.Fatalf("rotation while a running node lacks the new key: %d %s", code, msg)
	}
	_ = s1.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s1.done; err != nil {
		t.Fatal(err)
	}
	boot := regexp.MustCompile(`key:\s+(\S+)\n\s+secret:\s+(\S+)`).FindStringSubmatch(s1.stdout.String())
	if boot == nil {
		t.Fatalf("no bootstrap key in %q", s1.stdout.String())
	}

	// Rolling restart: the node knows both keys, the old one stays active.
	s2 := startServer(t, both...)
	if bearerGet(t, s2.url, token) != 200 {
		t.Fatal("old token refused by the restarted node")
	}

	// Attacks on the command: a wrong new key file, a concurrent rotation.
	bad := filepath.Join(dir, "bad.key")
	_ = os.WriteFile(bad, []byte("not a key at all\n"), 0o600)
	open := filepath.Join(dir, "open.key")
	raw, _ := os.ReadFile(newFile)
	_ = os.WriteFile(open, raw, 0o644)
	for _, tc := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "nope.key"), "no such file"},
		{"malformed", bad, "must be 32 bytes"},
		{"readable by others", open, "readable by others"},
	} {
		code, _, msg := runCLIBoth("admin", "rotate-master-key", "--data-dir", data, "--master-key-file", tc.file, "--previous-master-key-file", oldFile)
		if code == 0 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "not a key at all") {
			t.Errorf("%s new key file: %d %s", tc.name, code, msg)
		}
	}
	if code, _, msg := runCLIBoth("admin", "rotate-master-key", "--data-dir", data, "--master-key-file", newFile); code == 0 || !strings.Contains(msg, "differs from the database's active master key") {
		t.Errorf("rotation without the old key: %d %s", code, msg)
	}
	lock, err := store.LockRotation(context.Background(), nil, "", data)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, msg := runCLIBoth(append([]string{"admin", "rotate-master-key", "--settle", "0s"}, both...)...); code == 0 || !strings.Contains(msg, "another master-key rotation is running") {
		t.Errorf("rotation while another holds the lock: %d %s", code, msg)
	}
	lock.Close()

	code, out, errOut := runCLIBoth(append([]string{"admin", "rotate-master-key"}, both...)...)
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, errOut)
	}
	var res struct {
		Active   string         `json:"active_key_id"`
		Previous string         `json:"previous_key_id"`
		Creds    int            `json:"resealed_credentials"`
		Resealed map[string]int `json:"resealed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Active != newID || res.Previous != oldID || res.Creds != 1 || res.Resealed["ca_keys"] != 4 {
		t.Fatalf("rotate output %s (%v)", out, err)
	}
	status := func() (need int, oldUse map[string]any) {
		st := jsonOf(t, runCLI(t, append([]string{"admin", "master-key", "status"}, both...)...))
		for _, k := range st["keys"].([]any) {
			if k := k.(map[string]any); k["key_id"] == oldID {
				oldUse = k
			}
		}
		return int(st["need_previous_keys"].(float64)), oldUse
	}
	need, oldUse := status()
	// The access key and the bootstrap key; the access and refresh tokens.
	if need != 4 || oldUse["sealed_credentials"].(float64) != 0 || oldUse["hashed_credentials"].(float64) != 2 || oldUse["tokens"].(float64) != 2 {
		t.Fatalf("status after rotation: need %d, old key %v", need, oldUse)
	}
	if code, _, msg := runCLIBoth(append([]string{"admin", "master-key", "retire", oldID}, both...)...); code == 0 || !strings.Contains(msg, "still needed by 4 values") {
		t.Fatalf("retire while needed: %d %s", code, msg)
	}
	// Every keyed hash is used once on the running node: they move.
	if bearerGet(t, s2.url, token) != 200 {
		t.Fatal("old token refused after the rotation")
	}
	passwordGrantURL(t, s2.url, key, secret)
	passwordGrantURL(t, s2.url, boot[1], boot[2])
	tokenGrant(t, s2.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if need, _ := status(); need != 0 {
		t.Fatalf("still %d values under the old key", need)
	}
	runCLI(t, append([]string{"admin", "master-key", "retire", oldID}, both...)...)
	if bearerGet(t, s2.url, token) != 200 {
		t.Fatal("token refused after the retirement")
	}
	if code, _, msg := runCLIBoth(append([]string{"migrate"}, oldOnly...)...); code == 0 || !strings.Contains(msg, "differs from the database's active master key") {
		t.Fatalf("node with only the retired key: %d %s", code, msg)
	}
	// The CA's keys open without the retired key (they were re-sealed).
	if crl := runCLI(t, append([]string{"ca", "crl", "--ca", "device"}, both...)...); !bytes.Contains(crl, []byte("BEGIN X509 CRL")) {
		t.Fatalf("CRL after the retirement: %s", crl)
	}
	_ = s2.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s2.done; err != nil {
		t.Fatal(err)
	}
	s2.mu.Lock()
	logs := strings.Join(s2.stderr, "\n") + s2.stdout.String() + out
	s2.mu.Unlock()
	for _, k := range [][]byte{raw, mustRead(t, oldFile)} {
		if strings.Contains(logs, strings.TrimSpace(string(k))) {
			t.Fatal("a master key appears in the output or the log")
		}
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, boot[2]) {
		t.Fatal("a secret appears in the output or the log")
	}
	if !strings.Contains(logs, "active master key changed") {
		t.Fatalf("the node did not log the switch:\n%s", logs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
