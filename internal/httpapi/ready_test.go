package httpapi_test

import (
	"context"
	"database/sql"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/testutil/agtest"
)

// A store that still answers reads but refuses writes must take the node
// out of rotation: it would fail every token it tried to issue.
func TestAttack_ReadyWhileStoreCannotWrite(t *testing.T) {
	tests := []struct {
		name     string
		breakDB  func(t *testing.T, write *sql.DB)
		wantCode int
	}{
		{"healthy", func(*testing.T, *sql.DB) {}, http.StatusOK},
		{"read-only database", func(t *testing.T, write *sql.DB) {
			// The write pool has one connection: query_only holds for every later write.
			if _, err := write.Exec("PRAGMA query_only = ON"); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable},
		{"closed write handle", func(t *testing.T, write *sql.DB) {
			if err := write.Close(); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := agtest.Start(t, agtest.Options{}, nil)
			tt.breakDB(t, e.Svc.Store.(interface{ DB() *sql.DB }).DB())
			if err := e.Svc.Store.Ping(context.Background()); err != nil {
				t.Fatalf("the store must still answer reads for this attack: %v", err)
			}
			res, err := http.Get(e.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.wantCode {
				t.Fatalf("/readyz = %d, want %d", res.StatusCode, tt.wantCode)
			}
		})
	}
}
