package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/authgate/authgate/internal/core"
)

// BackupResult describes a finished backup.
type BackupResult struct {
	Out           string
	Bytes         int64
	SchemaVersion int64 // the newest goose migration applied in the copy
}

// Backup writes a consistent copy of the live database at path to out
// with VACUUM INTO: one read transaction, so the copy is the database as
// of one commit, while other connections (a serving node) keep reading
// and writing; SQLite's WAL lets the writer go on during the copy. The
// copy is written beside out, checked with PRAGMA integrity_check, synced
// and renamed into place; out must not exist (a backup is never
// overwritten). The copy is a complete database, mode 0600, that Open
// serves as it is.
func Backup(ctx context.Context, path, out string) (BackupResult, error) {
	if _, err := os.Stat(path); err != nil {
		return BackupResult{}, core.Wrap(core.KindNotFound, "no SQLite store to back up at "+path, err)
	}
	if _, err := os.Lstat(out); err == nil {
		return BackupResult{}, core.E(core.KindConflict, out+" exists: a backup does not overwrite a file")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return BackupResult{}, err
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	// VACUUM INTO wants a missing or empty file: an empty one made here has
	// the right mode from the start and proves the directory writable.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup file: %w", err)
	}
	f.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	// No migration, no pragma that writes: the serving node owns the schema.
	src, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return BackupResult{}, err
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return BackupResult{}, fmt.Errorf("VACUUM INTO: %w", err)
	}
	res := BackupResult{Out: out}
	if err := checkCopy(ctx, tmp, &res); err != nil {
		return BackupResult{}, err
	}
	if err := syncFile(tmp); err != nil {
		return BackupResult{}, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return BackupResult{}, err
	}
	ok = true
	if d, err := os.Open(filepath.Dir(out)); err == nil { // the rename itself durable
		_ = d.Sync()
		d.Close()
	}
	st, err := os.Stat(out)
	if err != nil {
		return BackupResult{}, err
	}
	res.Bytes = st.Size()
	return res, nil
}

// checkCopy runs PRAGMA integrity_check on the copy and reads its schema version.
func checkCopy(ctx context.Context, path string, res *BackupResult) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var verdict string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&verdict); err != nil {
		return fmt.Errorf("integrity_check of the copy: %w", err)
	}
	if verdict != "ok" {
		return fmt.Errorf("integrity_check of the copy: %s", verdict)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&res.SchemaVersion); err != nil {
		return fmt.Errorf("schema version of the copy: %w", err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
