package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// pgServer is a private PostgreSQL server for one test, so it can be
// stopped and started without disturbing the shared test server other
// packages use at the same time.
type pgServer struct {
	bin, dir, port string
	runas          []string
}

// startPrivatePostgres initialises and starts a PostgreSQL server on a free
// loopback port (the same way scripts/postgres.sh does). Without server
// binaries the test is skipped, unless the run requires PostgreSQL.
func startPrivatePostgres(t *testing.T) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if pgtest.Required() {
			t.Fatal("PostgreSQL server binaries not found (scripts/deps.sh installs them)")
		}
		t.Skip("PostgreSQL server binaries not found")
	}
	dir, err := os.MkdirTemp("", "authgate-pgfault.")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{bin: filepath.Dir(bins[len(bins)-1]), dir: dir}
	t.Cleanup(func() {
		_ = s.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(dir, uid, -1); err != nil {
			t.Fatal(err)
		}
		s.runas = []string{"runuser", "-u", "postgres", "--"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	if out, err := s.run(filepath.Join(s.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "authgate", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *pgServer) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, s.runas...), name), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

func (s *pgServer) ctl(args ...string) error {
	out, err := s.run(filepath.Join(s.bin, "pg_ctl"), append([]string{"-D", filepath.Join(s.dir, "data"), "-w", "-t", "60"}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, out)
	}
	return nil
}

func (s *pgServer) start() error {
	return s.ctl("-l", filepath.Join(s.dir, "server.log"), "-o",
		"-c listen_addresses=127.0.0.1 -c port="+s.port+" -c unix_socket_directories="+s.dir+" -c max_connections=200", "start")
}

// stop shuts the server down the way an operator's restart does: open
// sessions are terminated, in-flight transactions rolled back.
func (s *pgServer) stop() error { return s.ctl("stop", "-m", "fast") }

func (s *pgServer) dsn() string {
	return "postgres://authgate@127.0.0.1:" + s.port + "/postgres?sslmode=disable"
}
