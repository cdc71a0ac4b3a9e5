// Package durability holds the crash and multi-process tests of the
// storage layer: a store writer killed with SIGKILL loses nothing it had
// acknowledged, processes sharing one PostgreSQL see each other's replay
// entries at once, and a node with its replay cache in memory accepts no
// key twice across a SIGKILL or a clean stop.
package durability

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// The test binary doubles as the child process, selected by environment.
func TestMain(m *testing.M) {
	switch os.Getenv("DURABILITY_CHILD") {
	case "writer":
		os.Exit(writer(os.Getenv("DURABILITY_DB")))
	case "replay":
		os.Exit(replayChild(os.Getenv("DURABILITY_DB"), os.Getenv("DURABILITY_KEYS")))
	case "memreplay":
		os.Exit(memReplayChild(os.Getenv("DURABILITY_DB"), os.Getenv("DURABILITY_CLEAN_AFTER")))
	}
	os.Exit(m.Run())
}

func openServices(dsn string) (core.Services, error) {
	dir, dsnArg := "", dsn
	if strings.HasPrefix(dsn, "sqlite:") {
		dir, dsnArg = filepath.Dir(strings.TrimPrefix(dsn, "sqlite:")), dsn
	}
	st, err := store.Open(context.Background(), dsnArg, dir)
	if err != nil {
		return core.Services{}, err
	}
	keys, err := core.NewKeyring(make([]byte, core.MasterKeySize))
	if err != nil {
		return core.Services{}, err
	}
	return core.NewServices(st, keys, core.SystemClock{}, slog.New(slog.DiscardHandler)), nil
}

// writer issues tokens with their audit events from several goroutines and
// prints "ok <token id>" after each commit returned, until it is killed.
func writer(dsn string) int {
	svc, err := openServices(dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, tok := svc.Tokens.NewToken(core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Hour})
				ev := core.AuditEvent{Action: core.AuditIssue, Protocol: "durability", Subject: tok.ID}
				if err := svc.Tokens.Commit(context.Background(), []core.Token{tok}, []core.AuditEvent{ev}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintln(out, "ok", tok.ID)
				out.Flush() // acknowledged only once the parent can read it
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

func child(t *testing.T, mode, dsn string, extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"DURABILITY_CHILD=" + mode, "DURABILITY_DB=" + dsn}, extraEnv...)...)
	cmd.Stderr = os.Stderr
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	return cmd
}

// startReading starts cmd and returns a scanner over its stdout lines
// (pipes for stdin must be set up before).
func startReading(t *testing.T, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return bufio.NewScanner(stdout)
}

// killDuringWrites starts a writer, SIGKILLs it after it acknowledged at
// least n tokens, and checks every acknowledged token and audit event.
func killDuringWrites(t *testing.T, dsn string, n int) core.Services {
	cmd := child(t, "writer", dsn)
	sc := startReading(t, cmd)
	var acked []string
	deadline := time.Now().Add(60 * time.Second)
	for len(acked) < n && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
			acked = append(acked, id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer acknowledged only %d tokens in 60s", len(acked))
		}
	}
	// Writes are still in flight in the other goroutines: kill now.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines already written before the kill were acknowledged too (the
	// scanner also holds those it buffered but had not returned yet).
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
			acked = append(acked, id)
		}
	}
	_ = cmd.Wait()
	if len(acked) < n {
		t.Fatalf("only %d acknowledgements", len(acked))
	}

	svc, err := openServices(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Store.Close() })
	ctx := context.Background()
	events, err := svc.Audit.List(ctx, core.AuditFilter{Protocol: "durability", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, e := range events {
		audited[e.Subject] = true
	}
	for _, id := range acked {
		if _, err := svc.Store.GetToken(ctx, id); err != nil {
			t.Fatalf("acknowledged token %s lost: %v", id, err)
		}
		if !audited[id] {
			t.Fatalf("audit event of acknowledged token %s lost", id)
		}
	}
	t.Logf("%d acknowledged tokens and audit events survived SIGKILL", len(acked))
	return svc
}

func TestSIGKILLLosesNothingAcknowledgedSQLite(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "authgate.db")
	checkSQLiteIntegrity(t, killDuringWrites(t, dsn, 300))
}

func TestSIGKILLLosesNothingAcknowledgedPostgres(t *testing.T) {
	killDuringWrites(t, pgtest.DSN(t), 300)
}

// replayChild opens the store, prints "ready", waits for a line on stdin
// (so parent and child start inserting together), inserts the keys listed
// in the file and prints how many it won.
func replayChild(dsn, keysFile string) int {
	svc, err := openServices(dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, err := os.ReadFile(keysFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "no start signal:", err)
		return 2
	}
	won, err := insertReplayKeys(svc, strings.Fields(string(b)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println(won)
	return 0
}

// insertReplayKeys remembers each key and counts those this caller won.
func insertReplayKeys(svc core.Services, keys []string) (int, error) {
	won := 0
	for _, k := range keys {
		err := svc.Replay.Remember(context.Background(), "jti", k, time.Now().Add(time.Hour))
		switch {
		case err == nil:
			won++
		case core.KindOf(err) != core.KindReplayed:
			return won, err
		}
	}
	return won, nil
}

// The parent and a child process insert the same keys into one PostgreSQL
// at the same time: together they accept each key exactly once.
func TestTwoProcessesShareReplayCache(t *testing.T) {
	dsn := pgtest.DSN(t)
	svc, err := openServices(dsn) // migrates before the child opens it
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Store.Close()
	const n = 2000
	keys := make([]string, n)
	for i := range keys {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		keys[i] = hex.EncodeToString(b)
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := child(t, "replay", dsn, "DURABILITY_KEYS="+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lines := startReading(t, cmd)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("child did not get ready: %q %v", lines.Text(), lines.Err())
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	parentWon, err := insertReplayKeys(svc, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatalf("child printed no result: %v", lines.Err())
	}
	childWon, err := strconv.Atoi(lines.Text())
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	t.Logf("parent won %d keys, child %d", parentWon, childWon)
	if parentWon+childWon != n {
		t.Fatalf("the two processes accepted %d keys in total, want exactly %d", parentWon+childWon, n)
	}
	// Every key is now a replay for both, whoever won it.
	for _, k := range keys[:50] {
		if err := svc.Replay.Remember(context.Background(), "jti", k, time.Now().Add(time.Hour)); core.KindOf(err) != core.KindReplayed {
			t.Fatalf("key %s accepted twice: %v", k, err)
		}
	}
}

// memReplayExpiry is the expiry of every key the memory-replay child
// accepts: the parent's choice, passed to the child in DURABILITY_EXPIRY.
var memReplayExpiry = func() time.Time {
	if s, err := strconv.ParseInt(os.Getenv("DURABILITY_EXPIRY"), 10, 64); err == nil {
		return time.Unix(s, 0)
	}
	return time.Now().Truncate(time.Second).Add(10 * time.Minute)
}()

// memReplayChild accepts keys "k0", "k1", ... in a memory replay cache on
// SQLite and prints "ok <key>" after each. With cleanAfter = n it stops
// after n keys with a clean Close; otherwise it runs until killed.
func memReplayChild(dsn, cleanAfter string) int {
	svc, err := openServices(dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := core.OpenMemoryReplay(context.Background(), svc.Store, svc.Clock, core.MemoryReplayOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	limit, _ := strconv.Atoi(cleanAfter)
	out := bufio.NewWriter(os.Stdout)
	for i := 0; limit == 0 || i < limit; i++ {
		key := "k" + strconv.Itoa(i)
		if err := r.Remember(context.Background(), "jti", key, memReplayExpiry); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Fprintln(out, "ok", key)
		out.Flush()
	}
	if err := r.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// A node with the replay cache in memory, stopped by SIGKILL or cleanly:
// at the next start no key it acknowledged is accepted again. After the
// kill the fence refuses the namespace's old messages (even unseen ones);
// after a clean stop the keys are reloaded and nothing else is refused.
func TestMemoryReplayKilledOrStoppedAcceptsNothingTwice(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(map[bool]string{false: "SIGKILL", true: "clean stop"}[clean], func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "authgate.db")
			svc, err := openServices(dsn) // migrates before the child opens it
			if err != nil {
				t.Fatal(err)
			}
			svc.Store.Close()
			env := []string{"DURABILITY_EXPIRY=" + strconv.FormatInt(memReplayExpiry.Unix(), 10)}
			if clean {
				env = append(env, "DURABILITY_CLEAN_AFTER=300")
			}
			cmd := child(t, "memreplay", dsn, env...)
			lines := startReading(t, cmd)
			var acked []string
			for lines.Scan() {
				_, key, _ := strings.Cut(lines.Text(), " ")
				acked = append(acked, key)
				if !clean && len(acked) == 300 {
					_ = cmd.Process.Signal(syscall.SIGKILL)
				}
			}
			_ = cmd.Wait()
			if len(acked) < 300 {
				t.Fatalf("child acknowledged %d keys", len(acked))
			}
			svc, err = openServices(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Store.Close()
			r, err := core.OpenMemoryReplay(context.Background(), svc.Store, svc.Clock, core.MemoryReplayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range acked {
				if err := r.Remember(context.Background(), "jti", key, memReplayExpiry); core.KindOf(err) != core.KindReplayed {
					t.Fatalf("acknowledged key %s accepted again after restart: %v", key, err)
				}
			}
			// A key the child never saw, expiring like the old ones: the
			// fence refuses it after a kill; after a clean stop it is fresh.
			err = r.Remember(context.Background(), "jti", "never-seen", memReplayExpiry)
			if clean && err != nil {
				t.Fatalf("clean stop: unseen key refused: %v", err)
			}
			if !clean && core.KindOf(err) != core.KindReplayed {
				t.Fatalf("after SIGKILL: a message made before the crash was accepted: %v", err)
			}
			// Messages expiring past the horizon are accepted either way.
			if err := r.Remember(context.Background(), "jti", "new", memReplayExpiry.Add(time.Minute)); err != nil {
				t.Fatalf("new message refused: %v", err)
			}
		})
	}
}
