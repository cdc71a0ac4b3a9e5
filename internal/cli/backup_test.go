package cli

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// bootstrapCredentials waits for the key and secret a first start prints.
func bootstrapCredentials(t *testing.T, s *server) (key, secret string) {
	t.Helper()
	re := regexp.MustCompile(`key:\s+(\S+)\n\s+secret: (\S+)\n`)
	for range 200 {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m[1], m[2]
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no bootstrap credentials on stdout: %q", s.stdout.String())
	return "", ""
}

// passwordToken asks base for an access token with the password grant.
func passwordToken(base, key, secret string) (string, error) {
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token: status %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken, nil
}

// introspectActive asks base whether token is active (RFC 7662, client key and secret).
func introspectActive(t *testing.T, base, key, secret, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(key, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return r.Active
}

func stopServer(t *testing.T, s *server) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestBackupDuringWritesRestores: `authgate backup` runs beside a serving
// node (its store claim held) while clients issue tokens; the copy passes
// integrity_check, and a node started on it with the same master key
// serves the tokens issued before the backup, not those issued after.
func TestBackupDuringWritesRestores(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--data-dir", dir)
	key, secret := bootstrapCredentials(t, s)
	before, err := passwordToken(s.url, key, secret)
	if err != nil {
		t.Fatal(err)
	}

	var issued atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := passwordToken(s.url, key, secret); err != nil {
					failures.Add(1)
					t.Errorf("token during the backup: %v", err)
					return
				}
				issued.Add(1)
			}
		}()
	}
	waitFor := func(n int64) {
		for issued.Load() < n && failures.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(20) // writes are under way
	out := filepath.Join(t.TempDir(), "authgate-backup.db")
	code, stdout, stderr := runCLIExit(t, "backup", "--data-dir", dir, "--out", out)
	during := issued.Load()
	waitFor(during + 20) // and go on after it
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(stdout, "integrity_check ok") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLIExit(t, "backup", "--data-dir", dir, "--out", out); code != exitConflict || !strings.Contains(stderr, "exists") {
		t.Fatalf("second backup to the same file: exit %d %s", code, stderr)
	}
	after, err := passwordToken(s.url, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	stopServer(t, s)

	db, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var verdict string
	var tokens int64
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&verdict); err != nil || verdict != "ok" {
		t.Fatalf("integrity_check of the backup: %q %v", verdict, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM tokens`).Scan(&tokens); err != nil || tokens < 21 {
		t.Fatalf("tokens in the backup: %d %v", tokens, err)
	}
	db.Close()
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v %v", st, err)
	}

	// Restore: the copy as the store of a fresh data directory, the master key copied apart.
	restored := t.TempDir()
	copyFile(t, out, filepath.Join(restored, "authgate.db"))
	copyFile(t, filepath.Join(dir, "master.key"), filepath.Join(restored, "master.key"))
	s2 := startServer(t, "--data-dir", restored)
	if !introspectActive(t, s2.url, key, secret, before) {
		t.Fatal("a token issued before the backup is not active on the restored store")
	}
	if introspectActive(t, s2.url, key, secret, after) {
		t.Fatal("a token issued after the backup is active on the restored store")
	}
	if _, err := passwordToken(s2.url, key, secret); err != nil {
		t.Fatalf("the restored store does not issue: %v", err)
	}
	stopServer(t, s2)
	if strings.Contains(s2.stdout.String(), "secret:") {
		t.Fatal("the restored store bootstrapped a new admin")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRefusesPostgres: on PostgreSQL the command writes nothing and
// says what to run instead, the password hidden (exit 2); without a store
// it says so (exit 3).
func TestBackupRefusesPostgres(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.db")
	code, _, stderr := runCLIExit(t, "backup", "--db", "postgres://authgate:s3cret@db.example/authgate", "--data-dir", t.TempDir(), "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "pg_dump --format=custom") || strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, "authgate:***@db.example") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a file was written")
	}
	if code, _, stderr := runCLIExit(t, "backup", "--data-dir", filepath.Join(t.TempDir(), "none"), "--out", out); code != exitNotFound || !strings.Contains(stderr, "no SQLite store") {
		t.Fatalf("backup without a store: exit %d: %s", code, stderr)
	}
}
