package durability

import (
	"context"
	"database/sql"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

func checkSQLiteIntegrity(t *testing.T, svc core.Services) {
	t.Helper()
	s, ok := svc.Store.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatal("sqlite store does not expose its handle")
	}
	var res string
	if err := s.DB().QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check after SIGKILL: %s", res)
	}
}
