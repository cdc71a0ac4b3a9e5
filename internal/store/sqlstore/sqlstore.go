package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
)

// Dialect is what differs between backends.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Rebind turns '?' placeholders into the backend's form.
	Rebind(query string) string
	// Classify maps a driver error to a core error (conflict, unavailable) or returns it unchanged.
	Classify(err error) error
	// ClaimJobsQuery returns the statement that leases due jobs; its
	// arguments are (lockedUntil, queue, now, now, limit) and it returns job rows.
	ClaimJobsQuery() string
}

// Store implements core.Store on database/sql. Reads go to read, writes to
// write; for PostgreSQL both are the same pool, for SQLite the write pool
// has a single connection so writers queue in Go instead of spinning on
// SQLITE_BUSY.
type Store struct {
	read, write *sql.DB
	d           Dialect
	q           map[string]string
	closeFn     func() error
	// prepared statements of the hot paths (stmtcache.go)
	readStmts, writeStmts *stmtCache
	// latency, when set, is told how long each single statement took.
	latency LatencyObserver
	// cache of credential and principal reads (readcache.go); nil when off
	cache atomic.Pointer[readCache]
	// the replay fence of a FencedReplayDialect (replayfence.go)
	fence replayFence
	// tracer, when set, makes a span of each single statement.
	tracer trace.Tracer
}

// LatencyObserver receives the duration of a store statement by SQL
// operation (select, insert, update, delete, other).
type LatencyObserver interface {
	Observe(operation string, d time.Duration)
}

// SetLatencyObserver makes the store report the latency of its single
// statements (lookups, inserts, updates, deletes) to o. Call it while
// wiring, before the store is used.
func (s *Store) SetLatencyObserver(o LatencyObserver) { s.latency = o }

// SetTracer makes the store trace its single statements as client spans
// (the statement's operation, never its arguments). Call it while wiring.
func (s *Store) SetTracer(t trace.Tracer) { s.tracer = t }

// statement starts observing the statement q: a span when tracing, its
// latency when observed. The returned function ends both.
func (s *Store) statement(ctx context.Context, q string) (context.Context, func()) {
	if s.latency == nil && s.tracer == nil {
		return ctx, func() {}
	}
	op, start := sqlOperation(q), time.Now()
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.tracer.Start(ctx, "store "+op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", s.d.Name()), attribute.String("db.operation.name", op)))
	}
	return ctx, func() {
		if s.latency != nil {
			s.latency.Observe(op, time.Since(start))
		}
		if span != nil {
			span.End()
		}
	}
}

// sqlOperation is the statement's first keyword, lower case, from a closed set.
func sqlOperation(q string) string {
	q = strings.TrimLeft(q, " \t\r\n(")
	end := strings.IndexAny(q, " \t\r\n(")
	if end < 0 {
		end = len(q)
	}
	switch op := strings.ToLower(q[:end]); op {
	case "select", "insert", "update", "delete", "with":
		return op
	}
	return "other"
}

var _ core.Store = (*Store)(nil)

// New wraps open database handles. closeFn closes them.
func New(read, write *sql.DB, d Dialect, closeFn func() error) *Store {
	return &Store{read: read, write: write, d: d, q: map[string]string{}, closeFn: closeFn,
		readStmts: newStmtCache(read), writeStmts: newStmtCache(write),
		fence: replayFence{fences: map[string]int64{}, raised: map[string]int64{}}}
}

// Dialect names the backend.
func (s *Store) Dialect() string { return s.d.Name() }

// DB returns the write handle (for tools and tests).
func (s *Store) DB() *sql.DB { return s.write }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.err(s.read.PingContext(ctx)) }

// healthCounter is the one counter row CheckWritable increments; its
// window never ends, so the janitor leaves it and it never multiplies.
const (
	healthCounter   = "authgate:health:write"
	healthWindowEnd = int64(1) << 62
)

// CheckWritable increments the health counter through the write pool: a
// read-only file, a full disk that refuses the page, a lost primary or a
// closed write handle all fail it while Ping still succeeds.
func (s *Store) CheckWritable(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, s.rb(`INSERT INTO counters(key, window_end, value) VALUES(?,?,1)
		ON CONFLICT (key, window_end) DO UPDATE SET value=counters.value+1`), healthCounter, healthWindowEnd)
	return s.err(err)
}

// Close closes the database.
func (s *Store) Close() error { return s.closeFn() }

func (s *Store) rb(q string) string { return s.d.Rebind(q) }

func (s *Store) err(err error) error {
	if err == nil {
		return nil
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return core.E(core.KindNotFound, "not found")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return core.Wrap(core.KindUnavailable, "request cancelled or timed out", err)
	}
	return s.d.Classify(err)
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, done := s.statement(ctx, q)
	defer done()
	r, err := s.write.ExecContext(ctx, s.rb(q), args...)
	return r, s.err(err)
}

func (s *Store) execOne(ctx context.Context, q string, args ...any) error {
	r, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return s.err(err)
	}
	if n == 0 {
		return core.E(core.KindNotFound, "not found")
	}
	return nil
}

// --- time and null helpers ---

func ts(t time.Time) int64 { return t.UnixMicro() }

func tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func nullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func limitOf(p core.Page) (int, int) {
	limit := p.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	off := p.Offset
	if off < 0 {
		off = 0
	}
	return off, limit
}

// --- organisations ---

// CreateOrganisation inserts o.
func (s *Store) CreateOrganisation(ctx context.Context, o core.Organisation) error {
	_, err := s.exec(ctx, `INSERT INTO organisations(id, name, created_at) VALUES(?,?,?)`, o.ID, o.Name, ts(o.CreatedAt))
	return err
}

// GetOrganisation reads one organisation.
func (s *Store) GetOrganisation(ctx context.Context, id string) (core.Organisation, error) {
	var o core.Organisation
	var c int64
	err := s.queryRow(ctx, `SELECT id, name, created_at FROM organisations WHERE id=?`, id).Scan(&o.ID, &o.Name, &c)
	o.CreatedAt = fromTS(c)
	return o, s.err(err)
}

// ListOrganisations lists organisations by creation.
func (s *Store) ListOrganisations(ctx context.Context, p core.Page) ([]core.Organisation, int, error) {
	var total int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM organisations`).Scan(&total); err != nil {
		return nil, 0, s.err(err)
	}
	off, lim := limitOf(p)
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT id, name, created_at FROM organisations ORDER BY created_at, id LIMIT ? OFFSET ?`), lim, off)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.Organisation
	for rows.Next() {
		var o core.Organisation
		var c int64
		if err := rows.Scan(&o.ID, &o.Name, &c); err != nil {
			return nil, 0, s.err(err)
		}
		o.CreatedAt = fromTS(c)
		out = append(out, o)
	}
	return out, total, s.err(rows.Err())
}

// --- principals ---

const principalCols = `id, org_id, kind, name, disabled, created_at`

func scanPrincipal(sc interface{ Scan(...any) error }) (core.Principal, error) {
	var p core.Principal
	var kind string
	var c int64
	err := sc.Scan(&p.ID, &p.OrgID, &kind, &p.Name, &p.Disabled, &c)
	p.Kind = core.PrincipalKind(kind)
	p.CreatedAt = fromTS(c)
	return p, err
}

// CreatePrincipal inserts p.
func (s *Store) CreatePrincipal(ctx context.Context, p core.Principal) error {
	_, err := s.exec(ctx, `INSERT INTO principals(`+principalCols+`) VALUES(?,?,?,?,?,?)`,
		p.ID, p.OrgID, string(p.Kind), p.Name, p.Disabled, ts(p.CreatedAt))
	s.invalidateReads()
	return err
}

// GetPrincipal reads a principal by id (through the read cache when on).
func (s *Store) GetPrincipal(ctx context.Context, id string) (core.Principal, error) {
	return s.getPrincipalCached(ctx, id)
}

func (s *Store) getPrincipal(ctx context.Context, id string) (core.Principal, error) {
	p, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalCols+` FROM principals WHERE id=?`, id))
	return p, s.err(err)
}

// FindPrincipal reads a principal by organisation, kind and name.
func (s *Store) FindPrincipal(ctx context.Context, orgID string, kind core.PrincipalKind, name string) (core.Principal, error) {
	p, err := scanPrincipal(s.queryRow(ctx, `SELECT `+principalCols+` FROM principals WHERE org_id=? AND kind=? AND name=?`, orgID, string(kind), name))
	return p, s.err(err)
}

// ListPrincipals lists principals of an organisation; kind "" lists all kinds.
func (s *Store) ListPrincipals(ctx context.Context, orgID string, kind core.PrincipalKind, p core.Page) ([]core.Principal, int, error) {
	where, args := `WHERE org_id=?`, []any{orgID}
	if kind != "" {
		where += ` AND kind=?`
		args = append(args, string(kind))
	}
	var total int
	if err := s.read.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM principals `+where), args...).Scan(&total); err != nil {
		return nil, 0, s.err(err)
	}
	off, lim := limitOf(p)
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT `+principalCols+` FROM principals `+where+` ORDER BY created_at, id LIMIT ? OFFSET ?`), append(args, lim, off)...)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.Principal
	for rows.Next() {
		pr, err := scanPrincipal(rows)
		if err != nil {
			return nil, 0, s.err(err)
		}
		out = append(out, pr)
	}
	return out, total, s.err(rows.Err())
}

// SetPrincipalDisabled enables or disables a principal.
func (s *Store) SetPrincipalDisabled(ctx context.Context, id string, disabled bool) error {
	defer s.invalidateReads()
	return s.execOne(ctx, `UPDATE principals SET disabled=? WHERE id=?`, disabled, id)
}

// CountPrincipals counts principals of a kind across organisations.
func (s *Store) CountPrincipals(ctx context.Context, kind core.PrincipalKind) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM principals WHERE kind=?`, string(kind)).Scan(&n)
	return n, s.err(err)
}

// --- credentials ---

const credentialCols = `id, principal_id, org_id, kind, lookup, name, secret_hash, sealed, key_id, public, meta, created_at, expires_at, revoked_at`

func scanCredential(sc interface{ Scan(...any) error }) (core.Credential, error) {
	var c core.Credential
	var kind string
	var meta sql.NullString
	var created int64
	var exp, rev sql.NullInt64
	err := sc.Scan(&c.ID, &c.PrincipalID, &c.OrgID, &kind, &c.Lookup, &c.Name, &c.SecretHash, &c.Sealed, &c.KeyID, &c.Public, &meta, &created, &exp, &rev)
	c.Kind = core.CredentialKind(kind)
	if meta.Valid {
		c.Meta = []byte(meta.String)
	}
	c.CreatedAt = fromTS(created)
	c.ExpiresAt = fromNullTS(exp)
	c.RevokedAt = fromNullTS(rev)
	return c, err
}

// CreateCredential inserts c.
func (s *Store) CreateCredential(ctx context.Context, c core.Credential) error {
	_, err := s.exec(ctx, `INSERT INTO credentials(`+credentialCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.PrincipalID, c.OrgID, string(c.Kind), c.Lookup, c.Name, nullBytes(c.SecretHash), nullBytes(c.Sealed), c.KeyID,
		nullBytes(c.Public), nullText(c.Meta), ts(c.CreatedAt), tsp(c.ExpiresAt), tsp(c.RevokedAt))
	s.invalidateReads()
	return err
}

// GetCredential reads a credential by id (through the read cache when on).
func (s *Store) GetCredential(ctx context.Context, id string) (core.Credential, error) {
	return s.getCredentialCached(ctx, id)
}

func (s *Store) getCredential(ctx context.Context, id string) (core.Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id=?`, id))
	return c, s.err(err)
}

// FindCredential reads a credential by kind and lookup (through the read cache when on).
func (s *Store) FindCredential(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error) {
	return s.findCredentialCached(ctx, kind, lookup)
}

func (s *Store) findCredential(ctx context.Context, kind core.CredentialKind, lookup string) (core.Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE kind=? AND lookup=?`, string(kind), lookup))
	return c, s.err(err)
}

// ListCredentials lists credentials matching f, oldest first.
func (s *Store) ListCredentials(ctx context.Context, f core.CredentialFilter, p core.Page) ([]core.Credential, int, error) {
	var conds []string
	var args []any
	if f.OrgID != "" {
		conds, args = append(conds, "org_id=?"), append(args, f.OrgID)
	}
	if f.PrincipalID != "" {
		conds, args = append(conds, "principal_id=?"), append(args, f.PrincipalID)
	}
	if f.Kind != "" {
		conds, args = append(conds, "kind=?"), append(args, string(f.Kind))
	}
	if !f.IncludeRevoked {
		conds = append(conds, "revoked_at IS NULL")
	}
	if f.LookupPrefix != "" {
		// substr, not LIKE: SQLite's LIKE ignores case and both treat % and _ specially.
		conds, args = append(conds, "substr(lookup, 1, ?)=?"), append(args, utf8.RuneCountInString(f.LookupPrefix), f.LookupPrefix)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.read.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM credentials `+where), args...).Scan(&total); err != nil {
		return nil, 0, s.err(err)
	}
	off, lim := limitOf(p)
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT `+credentialCols+` FROM credentials `+where+` ORDER BY created_at, id LIMIT ? OFFSET ?`), append(args, lim, off)...)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, 0, s.err(err)
		}
		out = append(out, c)
	}
	return out, total, s.err(rows.Err())
}

// RenameCredential changes a credential's display name.
func (s *Store) RenameCredential(ctx context.Context, id, name string) error {
	defer s.invalidateReads()
	return s.execOne(ctx, `UPDATE credentials SET name=? WHERE id=?`, name, id)
}

// RevokeCredential marks a credential revoked (idempotent: the first time wins).
func (s *Store) RevokeCredential(ctx context.Context, id string, at time.Time) error {
	defer s.invalidateReads()
	return s.execOne(ctx, `UPDATE credentials SET revoked_at=COALESCE(revoked_at, ?) WHERE id=?`, ts(at), id)
}

// UpdateCredentialSecret moves a credential's secret to another master
// key, if it is still under fromKeyID.
func (s *Store) UpdateCredentialSecret(ctx context.Context, id, fromKeyID string, secretHash, sealed []byte, keyID string) (bool, error) {
	defer s.invalidateReads()
	col, val := "secret_hash", secretHash
	if len(sealed) > 0 {
		col, val = "sealed", sealed
	}
	if len(val) == 0 {
		return false, core.E(core.KindInvalidInput, "no secret to store")
	}
	n, err := s.rowsAffected(s.exec(ctx, `UPDATE credentials SET `+col+`=?, key_id=? WHERE id=? AND key_id=? AND `+col+` IS NOT NULL`, val, keyID, id, fromKeyID))
	return n == 1, err
}

// ListSealedCredentials lists credentials with a sealed secret not under notKeyID.
func (s *Store) ListSealedCredentials(ctx context.Context, notKeyID, afterID string, limit int) ([]core.Credential, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.write.QueryContext(ctx, s.rb(`SELECT `+credentialCols+` FROM credentials WHERE sealed IS NOT NULL AND key_id<>? AND id>? ORDER BY id LIMIT ?`), notKeyID, afterID, limit)
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	var out []core.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, s.err(err)
		}
		out = append(out, c)
	}
	return out, s.err(rows.Err())
}

// CountKeyUse counts, per key id, sealed credentials and live keyed hashes.
func (s *Store) CountKeyUse(ctx context.Context, now time.Time) ([]core.KeyUse, error) {
	byID := map[string]*core.KeyUse{}
	get := func(id string) *core.KeyUse {
		u, ok := byID[id]
		if !ok {
			u = &core.KeyUse{KeyID: id}
			byID[id] = u
		}
		return u
	}
	queries := []struct {
		q    string
		args []any
		add  func(u *core.KeyUse, n int)
	}{
		{`SELECT key_id, COUNT(*) FROM credentials WHERE sealed IS NOT NULL GROUP BY key_id`, nil,
			func(u *core.KeyUse, n int) { u.SealedCredentials += n }},
		{`SELECT key_id, COUNT(*) FROM credentials WHERE secret_hash IS NOT NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at>?) GROUP BY key_id`, []any{ts(now)},
			func(u *core.KeyUse, n int) { u.HashedCredentials += n }},
		{`SELECT key_id, COUNT(*) FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at>?) GROUP BY key_id`, []any{ts(now)},
			func(u *core.KeyUse, n int) { u.Tokens += n }},
	}
	for _, q := range queries {
		rows, err := s.write.QueryContext(ctx, s.rb(q.q), q.args...)
		if err != nil {
			return nil, s.err(err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, s.err(err)
			}
			q.add(get(id), n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.err(err)
		}
	}
	out := make([]core.KeyUse, 0, len(byID))
	for _, u := range byID {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b core.KeyUse) int { return strings.Compare(a.KeyID, b.KeyID) })
	return out, nil
}

// --- tokens ---

const tokenCols = `id, hash, kind, org_id, principal_id, principal_kind, credential_id, family_id, parent_id, scope, binding, cnf_x5t_s256, issued_at, expires_at, renewable_until, rotated_at, revoked_at, meta, key_id`

// tokenArgs are the values of tokenCols for t, in order.
func tokenArgs(t core.Token) []any {
	return []any{t.ID, t.Hash, string(t.Kind), t.OrgID, t.PrincipalID, string(t.PrincipalKind), t.CredentialID, t.FamilyID, t.ParentID, t.Scope, t.Binding,
		t.CertThumbprint, ts(t.IssuedAt), tsp(t.ExpiresAt), tsp(t.RenewableUntil), tsp(t.RotatedAt), tsp(t.RevokedAt), nullText(t.Meta), t.KeyID}
}

const tokenPlaceholders = `(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

func scanToken(sc interface{ Scan(...any) error }) (core.Token, error) {
	var t core.Token
	var kind, pkind string
	var issued int64
	var exp, ren, rot, rev sql.NullInt64
	var meta sql.NullString
	err := sc.Scan(&t.ID, &t.Hash, &kind, &t.OrgID, &t.PrincipalID, &pkind, &t.CredentialID, &t.FamilyID, &t.ParentID, &t.Scope, &t.Binding, &t.CertThumbprint,
		&issued, &exp, &ren, &rot, &rev, &meta, &t.KeyID)
	t.Kind, t.PrincipalKind = core.TokenKind(kind), core.PrincipalKind(pkind)
	t.IssuedAt = fromTS(issued)
	t.ExpiresAt, t.RenewableUntil, t.RotatedAt, t.RevokedAt = fromNullTS(exp), fromNullTS(ren), fromNullTS(rot), fromNullTS(rev)
	if meta.Valid {
		t.Meta = []byte(meta.String)
	}
	return t, err
}

// CreateToken inserts t.
func (s *Store) CreateToken(ctx context.Context, t core.Token) error {
	_, err := s.exec(ctx, `INSERT INTO tokens(`+tokenCols+`) VALUES`+tokenPlaceholders, tokenArgs(t)...)
	return err
}

// GetTokenByHash reads a token by its keyed hash.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (core.Token, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash=?`, hash))
	return t, s.err(err)
}

// RehashToken moves a token's hash to another master key, if its hash is still oldHash.
func (s *Store) RehashToken(ctx context.Context, id string, oldHash, newHash []byte, keyID string) (bool, error) {
	n, err := s.rowsAffected(s.exec(ctx, `UPDATE tokens SET hash=?, key_id=? WHERE id=? AND hash=?`, newHash, keyID, id, oldHash))
	return n == 1, err
}

// GetToken reads a token by id.
func (s *Store) GetToken(ctx context.Context, id string) (core.Token, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id=?`, id))
	return t, s.err(err)
}

// MarkTokenRotated sets rotated_at once.
func (s *Store) MarkTokenRotated(ctx context.Context, id string, at time.Time) (bool, error) {
	r, err := s.exec(ctx, `UPDATE tokens SET rotated_at=?, exchanges=exchanges+1 WHERE id=? AND rotated_at IS NULL`, ts(at), id)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, s.err(err)
}

// CountTokenExchange counts one exchange of a refresh token in a single
// conditional UPDATE, so concurrent exchanges on any number of nodes are
// serialised by the row lock. A token rotated otherwise (RotatedAt set,
// no count) is never exchanged again.
func (s *Store) CountTokenExchange(ctx context.Context, id string, at, since time.Time, max int) (int, error) {
	var n int
	err := s.write.QueryRowContext(ctx, s.rb(`UPDATE tokens SET exchanges=exchanges+1, rotated_at=COALESCE(rotated_at, ?)
		WHERE id=? AND (rotated_at IS NULL OR (exchanges>0 AND exchanges<? AND rotated_at>=?)) RETURNING exchanges`), ts(at), id, max, ts(since)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, s.err(err)
}

// ChooseTokenSuccessor records childID as the successor of parentID (a
// token of the same family) unless another child was recorded first.
func (s *Store) ChooseTokenSuccessor(ctx context.Context, parentID, childID, familyID string) (bool, error) {
	n, err := s.rowsAffected(s.exec(ctx, `UPDATE tokens SET successor=? WHERE id=? AND family_id=? AND (successor='' OR successor=?)`,
		childID, parentID, familyID, childID))
	if err != nil || n == 1 {
		return n == 1, err
	}
	// Refused, or no such parent (purged): only a recorded sibling refuses.
	var one int
	err = s.queryRow(ctx, `SELECT 1 FROM tokens WHERE id=? AND family_id=?`, parentID, familyID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, s.err(err)
}

// UpdateTokenExpiry sets a token's expiry.
func (s *Store) UpdateTokenExpiry(ctx context.Context, id string, expires time.Time) error {
	return s.execOne(ctx, `UPDATE tokens SET expires_at=? WHERE id=?`, ts(expires), id)
}

// RevokeToken revokes one token (idempotent).
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, `UPDATE tokens SET revoked_at=COALESCE(revoked_at, ?) WHERE id=?`, ts(at), id)
}

// RevokeTokenFamily revokes all live tokens of a family.
func (s *Store) RevokeTokenFamily(ctx context.Context, familyID string, at time.Time) (int, error) {
	return s.rowsAffected(s.exec(ctx, `UPDATE tokens SET revoked_at=? WHERE family_id=? AND revoked_at IS NULL`, ts(at), familyID))
}

// RevokePrincipalTokens revokes all live tokens of a principal.
func (s *Store) RevokePrincipalTokens(ctx context.Context, principalID string, at time.Time) (int, error) {
	return s.rowsAffected(s.exec(ctx, `UPDATE tokens SET revoked_at=? WHERE principal_id=? AND revoked_at IS NULL`, ts(at), principalID))
}

// RevokeCredentialTokens revokes all live tokens issued on the strength of a credential.
func (s *Store) RevokeCredentialTokens(ctx context.Context, credentialID string, at time.Time) (int, error) {
	if credentialID == "" {
		return 0, core.E(core.KindInvalidInput, "credential id required")
	}
	return s.rowsAffected(s.exec(ctx, `UPDATE tokens SET revoked_at=? WHERE credential_id=? AND revoked_at IS NULL`, ts(at), credentialID))
}

// CountActiveTokens counts a principal's usable tokens of a kind.
func (s *Store) CountActiveTokens(ctx context.Context, principalID string, kind core.TokenKind, now time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM tokens WHERE principal_id=? AND kind=? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at>?)`,
		principalID, string(kind), ts(now)).Scan(&n)
	return n, s.err(err)
}

// ListRevokedSince returns hashes of tokens revoked at or after since.
func (s *Store) ListRevokedSince(ctx context.Context, since time.Time) ([][]byte, error) {
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT hash FROM tokens WHERE revoked_at IS NOT NULL AND revoked_at>=?`), ts(since))
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, s.err(err)
		}
		out = append(out, h)
	}
	return out, s.err(rows.Err())
}

// PurgeTokens deletes tokens expired or revoked before before.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	b := ts(before)
	return s.rowsAffected(s.exec(ctx, `DELETE FROM tokens WHERE (expires_at IS NOT NULL AND expires_at<? AND (renewable_until IS NULL OR renewable_until<?)) OR (revoked_at IS NOT NULL AND revoked_at<?)`, b, b, b))
}

func (s *Store) rowsAffected(r sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), s.err(err)
}

// --- replay cache ---

// InsertReplayKey inserts key unless a live entry exists; an expired entry is taken over.
func (s *Store) InsertReplayKey(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	if fd, ok := s.d.(FencedReplayDialect); ok {
		fresh, err := s.insertReplayFenced(ctx, fd, []core.ReplayEntry{{Key: key, Expires: expires}}, now)
		if err != nil {
			return false, err
		}
		return fresh[0], nil
	}
	n, err := s.rowsAffected(s.exec(ctx, `INSERT INTO replay_keys(key, expires_at) VALUES(?,?)
		ON CONFLICT (key) DO UPDATE SET expires_at=excluded.expires_at WHERE replay_keys.expires_at<=?`, key, ts(expires), ts(now)))
	return n == 1, err
}

// ScanReplayKeys calls fn for every replay key live at now, in no
// particular order; a node that keeps the replay cache in memory reloads it
// with this at start-up.
func (s *Store) ScanReplayKeys(ctx context.Context, now time.Time, fn func(key string, expires time.Time) error) error {
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT key, expires_at FROM replay_keys WHERE expires_at>?`), ts(now))
	if err != nil {
		return s.err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var exp int64
		if err := rows.Scan(&key, &exp); err != nil {
			return s.err(err)
		}
		if err := fn(key, fromTS(exp)); err != nil {
			return err
		}
	}
	return s.err(rows.Err())
}

// PurgeReplayKeys deletes expired replay entries.
func (s *Store) PurgeReplayKeys(ctx context.Context, now time.Time) (int, error) {
	return s.rowsAffected(s.exec(ctx, `DELETE FROM replay_keys WHERE expires_at<=?`, ts(now)))
}

// --- audit ---

// AppendAudit appends events in one transaction.
func (s *Store) AppendAudit(ctx context.Context, events ...core.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_log(at, action, protocol, org_id, principal_id, subject, outcome, reason, remote_addr, request_id) VALUES`)
	args := make([]any, 0, len(events)*10)
	for i, e := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?)`)
		args = append(args, ts(e.At), e.Action, e.Protocol, e.OrgID, e.PrincipalID, clip(e.Subject, 512), e.Outcome, clip(e.Reason, 1024), clip(e.RemoteAddr, 128), clip(e.RequestID, 128))
	}
	_, err := s.exec(ctx, b.String(), args...)
	return err
}

// PurgeAudit deletes up to limit events older than before, oldest first,
// in one statement: the janitor calls it in a loop, so a long backlog is
// removed in bounded transactions that never hold the table for long.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.rowsAffected(s.exec(ctx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at<? ORDER BY id LIMIT `+strconv.Itoa(limit)+`)`, ts(before)))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ListAudit lists audit events newest first.
func (s *Store) ListAudit(ctx context.Context, f core.AuditFilter) ([]core.AuditEvent, error) {
	var conds []string
	var args []any
	if f.OrgID != "" {
		conds, args = append(conds, "org_id=?"), append(args, f.OrgID)
	}
	if f.PrincipalID != "" {
		conds, args = append(conds, "principal_id=?"), append(args, f.PrincipalID)
	}
	if f.Action != "" {
		conds, args = append(conds, "action=?"), append(args, f.Action)
	}
	if f.Protocol != "" {
		conds, args = append(conds, "protocol=?"), append(args, f.Protocol)
	}
	if f.Outcome != "" {
		conds, args = append(conds, "outcome=?"), append(args, f.Outcome)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "at>=?"), append(args, ts(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "at<?"), append(args, ts(f.Until))
	}
	if f.BeforeID > 0 {
		conds, args = append(conds, "id<?"), append(args, f.BeforeID)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	lim := f.Limit
	if lim <= 0 || lim > 10000 {
		lim = 10000
	}
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT id, at, action, protocol, org_id, principal_id, subject, outcome, reason, remote_addr, request_id FROM audit_log `+where+` ORDER BY id DESC LIMIT `+strconv.Itoa(lim)), args...)
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	var out []core.AuditEvent
	for rows.Next() {
		var e core.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Protocol, &e.OrgID, &e.PrincipalID, &e.Subject, &e.Outcome, &e.Reason, &e.RemoteAddr, &e.RequestID); err != nil {
			return nil, s.err(err)
		}
		e.At = fromTS(at)
		out = append(out, e)
	}
	return out, s.err(rows.Err())
}

// CountJobs counts unfinished jobs per queue and state. Finished jobs
// are left out, so the count reads the due index's rows and the failed ones.
func (s *Store) CountJobs(ctx context.Context) ([]core.JobCount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT queue, CASE WHEN failed_at IS NULL THEN '`+core.JobPending+`' ELSE '`+core.JobFailed+`' END AS state, COUNT(*)
		FROM jobs WHERE done_at IS NULL GROUP BY queue, state ORDER BY queue, state`)
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	var out []core.JobCount
	for rows.Next() {
		var c core.JobCount
		if err := rows.Scan(&c.Queue, &c.State, &c.Jobs); err != nil {
			return nil, s.err(err)
		}
		out = append(out, c)
	}
	return out, s.err(rows.Err())
}

// --- documents ---

const documentCols = `collection, id, org_id, data, version, created_at, updated_at`

func scanDocument(sc interface{ Scan(...any) error }) (core.Document, error) {
	var d core.Document
	var data string
	var c, u int64
	err := sc.Scan(&d.Collection, &d.ID, &d.OrgID, &data, &d.Version, &c, &u)
	d.Data = []byte(data)
	d.CreatedAt, d.UpdatedAt = fromTS(c), fromTS(u)
	return d, err
}

// PutDocument inserts a new document at version 1.
func (s *Store) PutDocument(ctx context.Context, d core.Document) error {
	if len(d.Data) == 0 {
		return core.E(core.KindInvalidInput, "document data is empty")
	}
	_, err := s.exec(ctx, `INSERT INTO documents(`+documentCols+`) VALUES(?,?,?,?,1,?,?)`,
		d.Collection, d.ID, d.OrgID, string(d.Data), ts(d.CreatedAt), ts(d.CreatedAt))
	return err
}

// GetDocument reads one document.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (core.Document, error) {
	d, err := scanDocument(s.queryRow(ctx, `SELECT `+documentCols+` FROM documents WHERE collection=? AND id=?`, collection, id))
	return d, s.err(err)
}

// UpdateDocument replaces a document's data if its version still matches.
func (s *Store) UpdateDocument(ctx context.Context, d core.Document) (core.Document, error) {
	n, err := s.rowsAffected(s.exec(ctx, `UPDATE documents SET data=?, version=version+1, updated_at=? WHERE collection=? AND id=? AND version=?`,
		string(d.Data), ts(d.UpdatedAt), d.Collection, d.ID, d.Version))
	if err != nil {
		return core.Document{}, err
	}
	if n == 0 {
		if _, gerr := s.GetDocument(ctx, d.Collection, d.ID); gerr != nil {
			return core.Document{}, gerr
		}
		return core.Document{}, core.E(core.KindConflict, fmt.Sprintf("document %s/%s changed concurrently", d.Collection, d.ID))
	}
	return s.getDocumentFromWriter(ctx, d.Collection, d.ID)
}

// getDocumentFromWriter reads through the write pool so the caller sees its own write.
func (s *Store) getDocumentFromWriter(ctx context.Context, collection, id string) (core.Document, error) {
	d, err := scanDocument(s.write.QueryRowContext(ctx, s.rb(`SELECT `+documentCols+` FROM documents WHERE collection=? AND id=?`), collection, id))
	return d, s.err(err)
}

// ListDocuments lists a collection newest first.
func (s *Store) ListDocuments(ctx context.Context, collection, orgID string, p core.Page) ([]core.Document, int, error) {
	where, args := `WHERE collection=?`, []any{collection}
	if orgID != "" {
		where += ` AND org_id=?`
		args = append(args, orgID)
	}
	var total int
	if err := s.read.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM documents `+where), args...).Scan(&total); err != nil {
		return nil, 0, s.err(err)
	}
	off, lim := limitOf(p)
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT `+documentCols+` FROM documents `+where+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`), append(args, lim, off)...)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, 0, s.err(err)
		}
		out = append(out, d)
	}
	return out, total, s.err(rows.Err())
}

// DeleteDocument deletes one document.
func (s *Store) DeleteDocument(ctx context.Context, collection, id string) error {
	return s.execOne(ctx, `DELETE FROM documents WHERE collection=? AND id=?`, collection, id)
}

// --- jobs ---

const jobCols = `id, queue, payload, run_at, attempts, locked_until, last_error, done_at, failed_at, created_at`

func scanJob(sc interface{ Scan(...any) error }) (core.Job, error) {
	var j core.Job
	var payload string
	var run, created int64
	var locked, done, failed sql.NullInt64
	err := sc.Scan(&j.ID, &j.Queue, &payload, &run, &j.Attempts, &locked, &j.LastError, &done, &failed, &created)
	j.Payload = []byte(payload)
	j.RunAt, j.CreatedAt = fromTS(run), fromTS(created)
	j.LockedUntil, j.DoneAt, j.FailedAt = fromNullTS(locked), fromNullTS(done), fromNullTS(failed)
	return j, err
}

// JobColumns is the column list dialects return from ClaimJobsQuery.
const JobColumns = jobCols

// EnqueueJob inserts a job.
func (s *Store) EnqueueJob(ctx context.Context, j core.Job) error {
	_, err := s.exec(ctx, `INSERT INTO jobs(`+jobCols+`) VALUES(?,?,?,?,0,NULL,'',NULL,NULL,?)`,
		j.ID, j.Queue, string(j.Payload), ts(j.RunAt), ts(j.CreatedAt))
	return err
}

// ClaimJobs leases due jobs.
func (s *Store) ClaimJobs(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]core.Job, error) {
	if limit <= 0 {
		// LIMIT -1 would mean "all" on SQLite and fail on PostgreSQL.
		return nil, nil
	}
	rows, err := s.write.QueryContext(ctx, s.rb(s.d.ClaimJobsQuery()), ts(now.Add(lease)), queue, ts(now), ts(now), limit)
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	var out []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, s.err(err)
		}
		out = append(out, j)
	}
	// UPDATE ... RETURNING gives no order guarantee: hand jobs out oldest first.
	slices.SortFunc(out, func(a, b core.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, s.err(rows.Err())
}

// CompleteJob marks a job done.
func (s *Store) CompleteJob(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, `UPDATE jobs SET done_at=?, locked_until=NULL WHERE id=?`, ts(at), id)
}

// RetryJob schedules another attempt.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastErr string) error {
	return s.execOne(ctx, `UPDATE jobs SET run_at=?, locked_until=NULL, last_error=? WHERE id=?`, ts(runAt), clip(lastErr, 2048), id)
}

// FailJob gives up on a job.
func (s *Store) FailJob(ctx context.Context, id string, at time.Time, lastErr string) error {
	return s.execOne(ctx, `UPDATE jobs SET failed_at=?, locked_until=NULL, last_error=? WHERE id=?`, ts(at), clip(lastErr, 2048), id)
}

// ListJobs lists jobs newest first.
func (s *Store) ListJobs(ctx context.Context, f core.JobFilter, p core.Page) ([]core.Job, int, error) {
	var conds []string
	var args []any
	if len(f.Queues) > 0 {
		conds = append(conds, "queue IN ("+placeholders(len(f.Queues))+")")
		for _, q := range f.Queues {
			args = append(args, q)
		}
	}
	switch f.State {
	case "":
	case core.JobPending:
		conds = append(conds, "done_at IS NULL AND failed_at IS NULL")
	case core.JobFailed:
		conds = append(conds, "done_at IS NULL AND failed_at IS NOT NULL")
	case core.JobDone:
		conds = append(conds, "done_at IS NOT NULL")
	default:
		return nil, 0, core.E(core.KindInvalidInput, "job state must be pending, failed or done")
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.read.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM jobs `+where), args...).Scan(&total); err != nil {
		return nil, 0, s.err(err)
	}
	off, lim := limitOf(p)
	rows, err := s.read.QueryContext(ctx, s.rb(`SELECT `+jobCols+` FROM jobs `+where+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`), append(args, lim, off)...)
	if err != nil {
		return nil, 0, s.err(err)
	}
	defer rows.Close()
	var out []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, 0, s.err(err)
		}
		out = append(out, j)
	}
	return out, total, s.err(rows.Err())
}

// RequeueJob makes a failed job due again.
func (s *Store) RequeueJob(ctx context.Context, id string, runAt time.Time) error {
	n, err := s.rowsAffected(s.exec(ctx, `UPDATE jobs SET failed_at=NULL, locked_until=NULL, run_at=? WHERE id=? AND failed_at IS NOT NULL AND done_at IS NULL`, ts(runAt), id))
	if err != nil || n == 1 {
		return err
	}
	if _, err := s.GetJob(ctx, id); err != nil {
		return err
	}
	return core.E(core.KindConflict, "the job has not failed")
}

// PurgeJobs deletes up to limit done or failed jobs finished before
// before, oldest first, in one statement (the janitor calls it in a
// loop). The state's condition is repeated outside the subquery: on
// PostgreSQL a row requeued while the statement waits for its lock is
// re-checked against it and kept.
func (s *Store) PurgeJobs(ctx context.Context, state string, before time.Time, limit int) (int, error) {
	var cond, col string
	switch state {
	case core.JobDone:
		cond, col = "done_at IS NOT NULL AND done_at<?", "done_at"
	case core.JobFailed:
		cond, col = "done_at IS NULL AND failed_at IS NOT NULL AND failed_at<?", "failed_at"
	default:
		return 0, core.E(core.KindInvalidInput, "only done or failed jobs are purged")
	}
	if limit <= 0 {
		limit = 1000
	}
	return s.rowsAffected(s.exec(ctx, `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE `+cond+` ORDER BY `+col+` LIMIT `+strconv.Itoa(limit)+`) AND `+cond,
		ts(before), ts(before)))
}

// GetJob reads one job.
func (s *Store) GetJob(ctx context.Context, id string) (core.Job, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id=?`, id))
	return j, s.err(err)
}

// --- counters ---

// AddToCounter adds delta to a windowed counter atomically.
func (s *Store) AddToCounter(ctx context.Context, key string, windowEnd time.Time, delta int64) (int64, error) {
	var v int64
	err := s.write.QueryRowContext(ctx, s.rb(`INSERT INTO counters(key, window_end, value) VALUES(?,?,?)
		ON CONFLICT (key, window_end) DO UPDATE SET value=counters.value+excluded.value RETURNING value`), key, ts(windowEnd), delta).Scan(&v)
	return v, s.err(err)
}

// PurgeCounters deletes counters of windows that ended.
func (s *Store) PurgeCounters(ctx context.Context, now time.Time) (int, error) {
	return s.rowsAffected(s.exec(ctx, `DELETE FROM counters WHERE window_end<=?`, ts(now)))
}

// counterChunk bounds the keys of one CounterValues query (placeholders).
const counterChunk = 256

// CounterValues reads the counters refs name, read-only, in one query per
// counterChunk keys; the exact window end is matched here.
func (s *Store) CounterValues(ctx context.Context, refs []core.CounterRef) ([]int64, error) {
	out := make([]int64, len(refs))
	for lo := 0; lo < len(refs); lo += counterChunk {
		part := refs[lo:min(lo+counterChunk, len(refs))]
		want := make(map[string][]int, len(part)) // key -> indexes in refs
		args := make([]any, 0, len(part))
		for i, r := range part {
			if _, ok := want[r.Key]; !ok {
				args = append(args, r.Key)
			}
			want[r.Key] = append(want[r.Key], lo+i)
		}
		rows, err := s.query(ctx, `SELECT key, window_end, value FROM counters WHERE key IN (`+placeholders(len(args))+`)`, args...)
		if err != nil {
			return nil, s.err(err)
		}
		for rows.Next() {
			var k string
			var end, v int64
			if err := rows.Scan(&k, &end, &v); err != nil {
				rows.Close()
				return nil, s.err(err)
			}
			for _, i := range want[k] {
				if ts(refs[i].WindowEnd) == end {
					out[i] = v
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.err(err)
		}
	}
	return out, nil
}

var _ core.CounterReader = (*Store)(nil)

// ReadCounters sums each key's counters over the given windows, read-only.
func (s *Store) ReadCounters(ctx context.Context, keys []string, windowEnds []time.Time) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	if len(keys) == 0 || len(windowEnds) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(keys)+len(windowEnds))
	for _, k := range keys {
		args = append(args, k)
	}
	for _, w := range windowEnds {
		args = append(args, ts(w))
	}
	q := `SELECT key, SUM(value) FROM counters WHERE key IN (` + placeholders(len(keys)) + `) AND window_end IN (` + placeholders(len(windowEnds)) + `) GROUP BY key`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.err(err)
		}
		out[k] = v
	}
	return out, s.err(rows.Err())
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

var _ core.BatchWriter = (*Store)(nil)

// WriteBatch inserts tokens and appends audit events in one transaction
// (core.Tokens groups concurrent issues into it). Rows go in multi-row
// INSERTs of at most batchRows rows to stay under bind-variable limits.
func (s *Store) WriteBatch(ctx context.Context, tokens []core.Token, events []core.AuditEvent) error {
	if len(tokens) == 0 && len(events) == 0 {
		return nil
	}
	type stmt struct {
		q    string
		args []any
	}
	var stmts []stmt
	const batchRows = 200
	for start := 0; start < len(tokens); start += batchRows {
		chunk := tokens[start:min(start+batchRows, len(tokens))]
		var b strings.Builder
		b.WriteString(`INSERT INTO tokens(` + tokenCols + `) VALUES`)
		args := make([]any, 0, len(chunk)*19)
		for i, t := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tokenPlaceholders)
			args = append(args, tokenArgs(t)...)
		}
		stmts = append(stmts, stmt{s.rb(b.String()), args})
	}
	for start := 0; start < len(events); start += batchRows {
		chunk := events[start:min(start+batchRows, len(events))]
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_log(at, action, protocol, org_id, principal_id, subject, outcome, reason, remote_addr, request_id) VALUES`)
		args := make([]any, 0, len(chunk)*10)
		for i, e := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?,?,?,?,?,?,?,?,?,?)`)
			args = append(args, ts(e.At), e.Action, e.Protocol, e.OrgID, e.PrincipalID, clip(e.Subject, 512), e.Outcome, clip(e.Reason, 1024), clip(e.RemoteAddr, 128), clip(e.RequestID, 128))
		}
		stmts = append(stmts, stmt{s.rb(b.String()), args})
	}
	// Prepare before the transaction: on SQLite the write pool has one
	// connection, which the transaction holds.
	prepared := make([]*sql.Stmt, len(stmts))
	for i, st := range stmts {
		prepared[i] = s.writeStmts.get(ctx, st.q)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.err(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for i, st := range stmts {
		if prepared[i] != nil {
			_, err = tx.StmtContext(ctx, prepared[i]).ExecContext(ctx, st.args...)
		} else {
			_, err = tx.ExecContext(ctx, st.q, st.args...)
		}
		if err != nil {
			return s.err(err)
		}
	}
	return s.err(tx.Commit())
}

// InsertReplayKeys inserts many replay keys at once (group commit) and
// reports, per key, whether it was fresh; a key repeated within the batch
// is fresh only the first time. On a dialect with array parameters the
// batch is one statement, one round trip and one implicit transaction,
// whatever its size; otherwise one transaction of one insert per key.
func (s *Store) InsertReplayKeys(ctx context.Context, entries []core.ReplayEntry, now time.Time) ([]bool, error) {
	fresh := make([]bool, len(entries))
	if len(entries) == 0 {
		return fresh, nil
	}
	if fd, ok := s.d.(FencedReplayDialect); ok {
		return s.insertReplayFenced(ctx, fd, entries, now)
	}
	q := s.rb(`INSERT INTO replay_keys(key, expires_at) VALUES(?,?)
		ON CONFLICT (key) DO UPDATE SET expires_at=excluded.expires_at WHERE replay_keys.expires_at<=?`)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.err(err)
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, s.err(err)
	}
	defer st.Close()
	// Insert in key order: concurrent batches (other nodes) then take the
	// row locks in one order and cannot deadlock on PostgreSQL. The sort is
	// stable, so a key repeated in the batch is fresh at its first place.
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(entries[a].Key, entries[b].Key) })
	for _, i := range order {
		e := entries[i]
		r, err := st.ExecContext(ctx, e.Key, ts(e.Expires), ts(now))
		if err != nil {
			return nil, s.err(err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return nil, s.err(err)
		}
		fresh[i] = n == 1
	}
	if err := tx.Commit(); err != nil {
		return nil, s.err(err)
	}
	return fresh, nil
}
