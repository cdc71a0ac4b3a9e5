package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestMigrationKeepsDeviceTokensBound: device tokens stored before
// migration 3 carried their certificate binding in the generic binding
// column ("x5t#S256:<thumbprint>"); migration 3 moves it to the enforced
// cnf column, so an upgrade never turns a bound token into a bearer token.
func TestMigrationKeepsDeviceTokensBound(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authgate.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]any{{"dev", "h-dev", "x5t#S256:thumb"}, {"ref", "h-ref", "https://app.example"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO tokens(id, hash, kind, org_id, principal_id, family_id, binding, issued_at) VALUES(?,?,'access','o','p',?,?,1)`,
			row[0], []byte(row[1].(string)), row[0], row[2]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dev, err := s.GetToken(ctx, "dev")
	if err != nil || dev.CertThumbprint != "thumb" || dev.Binding != "" {
		t.Fatalf("device token after migration: %+v %v", dev, err)
	}
	ref, err := s.GetToken(ctx, "ref")
	if err != nil || ref.CertThumbprint != "" || ref.Binding != "https://app.example" {
		t.Fatalf("referrer-bound token after migration: %+v %v", ref, err)
	}
}
