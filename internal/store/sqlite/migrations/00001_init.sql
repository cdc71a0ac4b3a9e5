-- +goose Up
CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organisations(id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, kind, name)
);
CREATE INDEX principals_kind ON principals(kind);
CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals(id),
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    lookup       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    secret_hash  BLOB,
    sealed       BLOB,
    public       BLOB,
    meta         TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    UNIQUE (kind, lookup)
);
CREATE INDEX credentials_principal ON credentials(principal_id);
CREATE INDEX credentials_org ON credentials(org_id, kind);
CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    hash            BLOB NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    credential_id   TEXT NOT NULL DEFAULT '',
    family_id       TEXT NOT NULL,
    parent_id       TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL DEFAULT '',
    binding         TEXT NOT NULL DEFAULT '',
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER,
    renewable_until INTEGER,
    rotated_at      INTEGER,
    revoked_at      INTEGER,
    meta            TEXT
);
CREATE INDEX tokens_family ON tokens(family_id);
CREATE INDEX tokens_principal ON tokens(principal_id, kind);
CREATE INDEX tokens_revoked ON tokens(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX tokens_expires ON tokens(expires_at);
CREATE TABLE replay_keys (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX replay_keys_expires ON replay_keys(expires_at);
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    action       TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    org_id       TEXT NOT NULL DEFAULT '',
    principal_id TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    remote_addr  TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TABLE documents (
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    org_id     TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX documents_org ON documents(collection, org_id, created_at);
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    queue        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    last_error   TEXT NOT NULL DEFAULT '',
    done_at      INTEGER,
    failed_at    INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(queue, run_at) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE TABLE counters (
    key        TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    value      INTEGER NOT NULL,
    PRIMARY KEY (key, window_end)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE counters;
DROP TABLE jobs;
DROP TABLE documents;
DROP TABLE audit_log;
DROP TABLE replay_keys;
DROP TABLE tokens;
DROP TABLE credentials;
DROP TABLE principals;
DROP TABLE organisations;
