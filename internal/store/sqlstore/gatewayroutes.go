package sqlstore

import (
	"context"
	"database/sql"

	"github.com/authgate/authgate/internal/core"
)

// --- gateway routes ---

const gatewayRouteCols = `name, spec, created_at, created_by`

func scanGatewayRoute(sc interface{ Scan(...any) error }) (core.GatewayRoute, error) {
	var r core.GatewayRoute
	var spec string
	var c int64
	err := sc.Scan(&r.Name, &spec, &c, &r.CreatedBy)
	r.Spec, r.CreatedAt = []byte(spec), fromTS(c)
	return r, err
}

// routesTx runs one change of the route set and raises its version in the
// same transaction, so a poller never sees the change without the new
// version or the version without the change.
func (s *Store) routesTx(ctx context.Context, change func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.err(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := change(tx); err != nil {
		return s.err(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_routes_version SET version=version+1 WHERE id=1`); err != nil {
		return s.err(err)
	}
	return s.err(tx.Commit())
}

// CreateGatewayRoute inserts a route; KindConflict if the name exists.
func (s *Store) CreateGatewayRoute(ctx context.Context, r core.GatewayRoute) error {
	if r.Name == "" || len(r.Spec) == 0 {
		return core.E(core.KindInvalidInput, "gateway route name and spec are required")
	}
	return s.routesTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rb(`INSERT INTO gateway_routes(`+gatewayRouteCols+`) VALUES(?,?,?,?)`),
			r.Name, string(r.Spec), ts(r.CreatedAt), r.CreatedBy)
		return err
	})
}

// GetGatewayRoute reads one route.
func (s *Store) GetGatewayRoute(ctx context.Context, name string) (core.GatewayRoute, error) {
	r, err := scanGatewayRoute(s.read.QueryRowContext(ctx, s.rb(`SELECT `+gatewayRouteCols+` FROM gateway_routes WHERE name=?`), name))
	return r, s.err(err)
}

// ListGatewayRoutes reads every route and the version of that set in one
// read transaction.
func (s *Store) ListGatewayRoutes(ctx context.Context) ([]core.GatewayRoute, int64, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM gateway_routes_version WHERE id=1`).Scan(&version); err != nil {
		return nil, 0, s.err(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+gatewayRouteCols+` FROM gateway_routes ORDER BY name`)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.GatewayRoute
	for rows.Next() {
		r, err := scanGatewayRoute(rows)
		if err != nil {
			return nil, 0, s.err(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.err(err)
	}
	return out, version, s.err(tx.Commit())
}

// DeleteGatewayRoute deletes one route; KindNotFound if there is none.
func (s *Store) DeleteGatewayRoute(ctx context.Context, name string) error {
	return s.routesTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rb(`DELETE FROM gateway_routes WHERE name=?`), name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = core.E(core.KindNotFound, "no such gateway route")
			}
			return err
		}
		return nil
	})
}

// GatewayRoutesVersion reads the route set's version.
func (s *Store) GatewayRoutesVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.read.QueryRowContext(ctx, `SELECT version FROM gateway_routes_version WHERE id=1`).Scan(&v)
	return v, s.err(err)
}
