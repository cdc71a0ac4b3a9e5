package oauth2client

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileCache keeps tokens in a JSON file readable only by the user (0600,
// in a 0700 directory), one entry per server, key and secret. The secret
// is never written; only the token pair and its expiry.
type FileCache struct {
	Path string
}

var (
	_ Cache        = FileCache{}
	_ cacheDeleter = FileCache{}
)

// DefaultCachePath is authgate/tokens.json under the user's cache directory.
func DefaultCachePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "authgate", "tokens.json"), nil
}

func entryName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

func (f FileCache) read() (map[string]*Token, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*Token{}, nil
	}
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(f.Path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token cache %s is accessible by others (mode %v); refusing to use it", f.Path, st.Mode().Perm())
	}
	m := map[string]*Token{}
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]*Token{}, nil // a corrupt cache is only a cache
	}
	return m, nil
}

// Load returns the cached token for key.
func (f FileCache) Load(key string) (*Token, error) {
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	return m[entryName(key)], nil
}

// Save stores t for key, replacing the file atomically.
func (f FileCache) Save(key string, t *Token) error {
	return f.update(func(m map[string]*Token) { m[entryName(key)] = t })
}

// Delete drops the entry of key, if any.
func (f FileCache) Delete(key string) error {
	m, err := f.read()
	if err != nil || m[entryName(key)] == nil {
		return err
	}
	return f.update(func(m map[string]*Token) { delete(m, entryName(key)) })
}

// update rewrites the file with edit applied, atomically.
func (f FileCache) update(edit func(map[string]*Token)) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return err
	}
	m, err := f.read()
	if err != nil {
		return err
	}
	edit(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".tokens-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}
