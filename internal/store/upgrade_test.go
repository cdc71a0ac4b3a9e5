package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/store"
	"github.com/authgate/authgate/internal/store/postgres"
	"github.com/authgate/authgate/internal/store/sqlite"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// writeFixtures regenerates the fixture of the current schema for each
// backend (at a release: the fixtures of earlier releases are kept, and
// every one of them must keep migrating to the newest schema). It needs
// the sqlite3 and pg_dump programs and AUTHGATE_TEST_POSTGRES.
var writeFixtures = flag.Bool("write-fixtures", false, "write testdata/upgrade/<backend>-v<N>.sql from the current migrations")

// The fixture's data, made through the core services with a fixed master key.
const (
	fixtureMasterKey   = "6f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	fixtureOrg         = "Fixture Org"
	fixtureKey         = "fixturekey0001"
	fixtureKeySecret   = "fixture-access-secret-0123456789abcdef"
	fixtureAppToken    = "fixture-app-token"
	fixtureAppSecret   = "fixture-app-secret-0123456789"
	fixtureAccessToken = "fixture-access-token-0123456789abcdefghij"
)

func fixtureServices(t *testing.T, st core.Store) core.Services {
	t.Helper()
	master, err := core.ParseMasterKey(fixtureMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := core.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	return core.NewServices(st, keys, core.NewManualClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// seedFixture writes one of each: organisation, principal, bearer-only
// credential (keyed hash), sealed credential, access token, audit event.
func seedFixture(t *testing.T, st core.Store) {
	t.Helper()
	ctx := context.Background()
	svc := fixtureServices(t, st)
	if err := svc.CheckKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrganisation(ctx, fixtureOrg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreatePrincipal(ctx, org.ID, core.PrincipalKind("owner"), "fixture-owner")
	if err != nil {
		t.Fatal(err)
	}
	ak, _, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey, Lookup: fixtureKey, Secret: fixtureKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAppToken, Lookup: fixtureAppToken, Secret: fixtureAppSecret}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: org.ID, PrincipalID: p.ID, CredentialID: ak.ID, Value: fixtureAccessToken, Scope: "fixture"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: "admin", OrgID: org.ID, PrincipalID: p.ID, Subject: "fixture"}); err != nil {
		t.Fatal(err)
	}
}

// checkFixtureData reads the seeded data back through the services of the migrated store.
func checkFixtureData(t *testing.T, st core.Store) {
	t.Helper()
	ctx := context.Background()
	svc := fixtureServices(t, st)
	if err := svc.CheckKeyring(ctx); err != nil {
		t.Fatalf("master key check after migration: %v", err)
	}
	c, err := svc.Credentials.VerifySecret(ctx, core.CredAccessKey, fixtureKey, fixtureKeySecret)
	if err != nil {
		t.Fatalf("access key after migration: %v", err)
	}
	if _, err := svc.Credentials.VerifySecret(ctx, core.CredAccessKey, fixtureKey, fixtureKeySecret+"x"); err == nil {
		t.Fatal("wrong secret verified after migration")
	}
	org, err := st.GetOrganisation(ctx, c.OrgID)
	if err != nil || org.Name != fixtureOrg {
		t.Fatalf("organisation: %+v %v", org, err)
	}
	app, err := svc.Credentials.Find(ctx, core.CredAppToken, fixtureAppToken)
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := svc.Credentials.Open(app); err != nil || string(secret) != fixtureAppSecret {
		t.Fatalf("sealed secret after migration: %q %v", secret, err)
	}
	tok, err := svc.Tokens.Lookup(ctx, core.TokenAccess, fixtureAccessToken)
	if err != nil || tok.PrincipalID != c.PrincipalID || tok.Scope != "fixture" || tok.RevokedAt != nil {
		t.Fatalf("access token after migration: %+v %v", tok, err)
	}
	events, err := svc.Audit.List(ctx, core.AuditFilter{Limit: 10})
	if err != nil || len(events) == 0 {
		t.Fatalf("audit after migration: %v %v", events, err)
	}
}

// newest is the version of the last embedded migration, read from the
// migration status of a migrated store.
func newest(t *testing.T, dsn, dir string) (current int64, pending int) {
	t.Helper()
	_, st, err := store.MigrationStatus(context.Background(), dsn, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if m.State == goose.StateApplied {
			current = max(current, m.Source.Version)
		} else {
			pending++
		}
	}
	return current, pending
}

var fixtureName = regexp.MustCompile(`^(sqlite|postgres)-v(\d+)\.sql$`)

// TestUpgradeFromFixtures: every fixture (a dump of a released schema with
// data, one per backend and release) migrates to the newest schema, which
// includes migrations added after the fixture, and its data reads back.
func TestUpgradeFromFixtures(t *testing.T) {
	if *writeFixtures {
		writeFixtureFiles(t)
	}
	files, _ := filepath.Glob("testdata/upgrade/*.sql")
	seen := map[string]bool{}
	for _, f := range files {
		m := fixtureName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Fatalf("%s: fixture names are <backend>-v<version>.sql", f)
		}
		backend := m[1]
		version, _ := strconv.ParseInt(m[2], 10, 64)
		seen[backend] = true
		t.Run(filepath.Base(f), func(t *testing.T) {
			dump, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var dsn, dir string
			switch backend {
			case "sqlite":
				dir = t.TempDir()
				dsn = "sqlite:" + filepath.Join(dir, "authgate.db")
				loadDump(t, "sqlite", strings.TrimPrefix(dsn, "sqlite:"), string(dump))
			case "postgres":
				dsn = pgtest.DSN(t)
				loadDump(t, "pgx", dsn, string(dump))
			}
			before, _ := newest(t, dsn, dir)
			if before != version {
				t.Fatalf("fixture is at schema version %d, its name says %d", before, version)
			}
			st, err := store.Open(context.Background(), dsn, dir) // migrates
			if err != nil {
				t.Fatalf("open (migrate) the fixture: %v", err)
			}
			defer st.Close()
			after, pending := newest(t, dsn, dir)
			if pending != 0 || after < version {
				t.Fatalf("after migration: version %d, %d pending", after, pending)
			}
			t.Logf("migrated %s from version %d to %d", backend, version, after)
			checkFixtureData(t, st)
		})
	}
	for _, b := range []string{"sqlite", "postgres"} {
		if !seen[b] {
			t.Errorf("no fixture for %s in testdata/upgrade", b)
		}
	}
}

func loadDump(t *testing.T, driver, dsn, dump string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // pg_dump's script changes session settings (search_path): the connection goes with it
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(dump); err != nil {
		t.Fatalf("load fixture: %v", err)
	}
}

// writeFixtureFiles makes a store of each backend at the current head,
// seeds it, checks it, and dumps it as SQL.
func writeFixtureFiles(t *testing.T) {
	ctx := context.Background()
	// SQLite: sqlite3's .dump.
	path := filepath.Join(t.TempDir(), "fixture.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedFixture(t, st)
	checkFixtureData(t, st)
	st.Close()
	v, _ := newest(t, "sqlite:"+path, "")
	out, err := exec.Command("sqlite3", path, ".dump").Output()
	if err != nil {
		t.Fatalf("sqlite3 .dump: %v", err)
	}
	writeFixture(t, "sqlite", v, out)
	// PostgreSQL: pg_dump as INSERTs (no COPY: the test loads it without psql).
	dsn := pgtest.DSN(t)
	pst, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedFixture(t, pst)
	checkFixtureData(t, pst)
	pst.Close()
	v, _ = newest(t, dsn, "")
	out, err = exec.Command("pg_dump", "--no-owner", "--no-privileges", "--inserts", "--dbname="+dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	var keep [][]byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte(`\`)) { // psql meta-commands (\restrict) are not SQL
			keep = append(keep, l)
		}
	}
	writeFixture(t, "postgres", v, bytes.Join(keep, []byte("\n")))
}

func writeFixture(t *testing.T, backend string, version int64, dump []byte) {
	t.Helper()
	name := filepath.Join("testdata", "upgrade", fmt.Sprintf("%s-v%d.sql", backend, version))
	head := fmt.Sprintf("-- authgate %s store at schema version %d with fixture data (internal/store/upgrade_test.go,\n-- go test ./internal/store -run TestUpgradeFromFixtures -write-fixtures). Keep it: every\n-- later schema must migrate from it.\n", backend, version)
	if err := os.WriteFile(name, append([]byte(head), dump...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", name)
}
