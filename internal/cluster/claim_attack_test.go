package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdkpop "github.com/authgate/authgate/sdk/pop"
)

// runToExit runs `authgate serve` on db and waits for it to exit by itself
// (a refused start); it fails the test if the process served instead.
func runToExit(t *testing.T, db string, master []byte, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--db", db)
	cmd.Env = append(os.Environ(), append([]string{"AUTHGATE_TEST_MAIN=1", "AUTHGATE_ACCESS_LOG=false",
		"AUTHGATE_MASTER_KEY=" + hex.EncodeToString(master)}, env...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("second serve did not exit:\n%s", out)
	}
	if err == nil || strings.Contains(string(out), "msg=listening") {
		t.Fatalf("second serve on the same store started (exit %v):\n%s", err, out)
	}
	return string(out)
}

// stop sends SIGTERM (a clean stop: the memory replay cache is flushed) and waits.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
}

// popTokenRequest is one PoP-signed TAAP token request, re-sendable to any node.
type popTokenRequest struct{ header http.Header }

func (p popTokenRequest) send(t *testing.T, base string) reply {
	t.Helper()
	req, err := http.NewRequest("POST", base+sdkpop.TokenPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = p.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: b}
}

// TestAttack_SecondProcessOnSameSQLiteStoreRefused: with one `authgate
// serve` running on a SQLite store (its replay cache in memory, the
// default), a second one on the same store used to start with a replay
// cache of its own, and the PoP token the first had accepted was accepted
// by the second once more (a second token set from one token-endpoint
// PoP). Now the second refuses to start and says why; the first keeps
// serving; once the first stops the second starts and still refuses the
// PoP token as a replay. Every combination of replay modes in which one
// node is in memory is refused; database-mode nodes share the store.
func TestAttack_SecondProcessOnSameSQLiteStoreRefused(t *testing.T) {
	master := newMasterKey(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "authgate.db")
	first := startChild(t, db, master)
	admKey, admSecret := first.bootstrapAdmin(t)

	// A TAAP client registered in the store the first node serves.
	ctx := context.Background()
	st, err := store.Open(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := core.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	info, err := taap.CreateClient(ctx, core.NewServices(st, keys, core.SystemClock{}, slog.New(slog.DiscardHandler)),
		taap.ClientSpec{Name: "replay probe", PublicKeys: [][]byte{sdkpop.PublicKeyPEM(key)}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	sdk := &sdkpop.Client{BaseURL: first.url, ClientID: info.ClientID, ClientSecret: info.ClientSecret, Builder: &sdkpop.Builder{Key: key}}
	req, err := sdk.TokenRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pop := popTokenRequest{header: req.Header}
	if r := pop.send(t, first.url); r.status != 200 {
		t.Fatalf("PoP token request on the first node: %d %s", r.status, r.body)
	}

	out := runToExit(t, db, master)
	if !strings.Contains(out, "another authgate serve is running on the SQLite store") || !strings.Contains(out, "replay.mode: database") {
		t.Fatalf("refusal does not say why:\n%s", out)
	}
	// The first node still serves, and still refuses the replay itself.
	c := newClient(first.url)
	c.passwordGrant(t, 0, admKey, admSecret)
	if r := pop.send(t, first.url); r.status != 401 {
		t.Fatalf("replay on the first node: %d %s", r.status, r.body)
	}

	first.stop(t)
	second := startChild(t, db, master)
	newClient(second.url).passwordGrant(t, 0, admKey, admSecret)
	if r := pop.send(t, second.url); r.status != 401 || !strings.Contains(string(r.body), "jti") {
		t.Fatalf("PoP token accepted by the second node after the first stopped: %d %s", r.status, r.body)
	}
	second.stop(t)

	// Modes: a memory-mode node needs the store alone, database-mode nodes share it.
	for _, tc := range []struct{ first, second string }{
		{"database", "memory"},
		{"memory", "database"},
	} {
		t.Run(tc.first+"-then-"+tc.second, func(t *testing.T) {
			a := startChild(t, db, master, "AUTHGATE_REPLAY_MODE="+tc.first)
			runToExit(t, db, master, "AUTHGATE_REPLAY_MODE="+tc.second)
			newClient(a.url).passwordGrant(t, 0, admKey, admSecret)
			a.stop(t)
		})
	}
	t.Run("database-and-database", func(t *testing.T) {
		a := startChild(t, db, master, "AUTHGATE_REPLAY_MODE=database")
		b := startChild(t, db, master, "AUTHGATE_REPLAY_MODE=database")
		newClient(a.url, b.url).passwordGrant(t, 1, admKey, admSecret)
		a.stop(t)
		b.stop(t)
	})
}

// TestAttack_SecondProcessBesideMemoryModeOnPostgresRefused: the same
// attack on PostgreSQL, where memory mode is allowed by configuration: a
// node with replay.mode memory holds the database alone, so a second
// `authgate serve` on it refuses to start, in either mode, until the
// first stops; database-mode nodes then share it.
func TestAttack_SecondProcessBesideMemoryModeOnPostgresRefused(t *testing.T) {
	master := newMasterKey(t)
	dsn := pgtest.DSN(t)
	first := startChild(t, dsn, master, "AUTHGATE_REPLAY_MODE=memory")
	key, secret := first.bootstrapAdmin(t)
	for _, mode := range []string{"memory", "database"} {
		out := runToExit(t, dsn, master, "AUTHGATE_REPLAY_MODE="+mode)
		if !strings.Contains(out, "PostgreSQL database") {
			t.Fatalf("%s-mode refusal does not say why:\n%s", mode, out)
		}
	}
	newClient(first.url).passwordGrant(t, 0, key, secret)
	first.stop(t)
	a := startChild(t, dsn, master, "AUTHGATE_REPLAY_MODE=database")
	b := startChild(t, dsn, master, "AUTHGATE_REPLAY_MODE=database")
	newClient(a.url, b.url).passwordGrant(t, 1, key, secret)
}
