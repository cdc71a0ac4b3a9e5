package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements for the hot queries (token, credential
// and principal lookups, counter reads, grouped token inserts): parsing the
// SQL again on every call was a quarter of the CPU of a password grant on
// SQLite. database/sql prepares a cached statement once per connection.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxCachedStmts bounds the cache; queries beyond it run unprepared.
const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement for q (already rebound), or nil if the
// cache is full or preparing failed (the caller then runs q directly).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.m[q] = st
	return st
}

// queryRow runs a cached single-row query on the read pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, done := s.statement(ctx, q)
	defer done()
	q = s.rb(q)
	if st := s.readStmts.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.read.QueryRowContext(ctx, q, args...)
}

// query runs a cached query on the read pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, done := s.statement(ctx, q)
	defer done()
	q = s.rb(q)
	if st := s.readStmts.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.read.QueryContext(ctx, q, args...)
}

// writeQuery runs a cached statement that returns rows on the write pool.
func (s *Store) writeQuery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, done := s.statement(ctx, q)
	defer done()
	q = s.rb(q)
	var rows *sql.Rows
	var err error
	if st := s.writeStmts.get(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = s.write.QueryContext(ctx, q, args...)
	}
	return rows, s.err(err)
}
