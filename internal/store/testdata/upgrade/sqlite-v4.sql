-- authgate sqlite store at schema version 4 with fixture data (internal/store/upgrade_test.go,
-- go test ./internal/store -run TestUpgradeFromFixtures -write-fixtures). Keep it: every
-- later schema must migrate from it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE goose_db_version (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		version_id INTEGER NOT NULL,
		is_applied INTEGER NOT NULL,
		tstamp TIMESTAMP DEFAULT (datetime('now'))
	);
INSERT INTO goose_db_version VALUES(1,0,1,'2026-12-01 19:37:41');
INSERT INTO goose_db_version VALUES(2,1,1,'2026-12-01 19:37:42');
INSERT INTO goose_db_version VALUES(3,2,1,'2026-12-01 19:37:42');
INSERT INTO goose_db_version VALUES(4,3,1,'2026-12-01 19:37:42');
INSERT INTO goose_db_version VALUES(5,4,1,'2026-12-01 19:37:42');
CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO organisations VALUES('10df9a4a4f3e1573f31862035e9ec145','Fixture Org',1796126400000000);
CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organisations(id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, kind, name)
);
INSERT INTO principals VALUES('f92b65bdd7d66ea9d0a71f264c7746a8','10df9a4a4f3e1573f31862035e9ec145','owner','fixture-owner',0,1796126400000000);
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
INSERT INTO credentials VALUES('1d82205a427437b8c3791ad465d504f1','f92b65bdd7d66ea9d0a71f264c7746a8','10df9a4a4f3e1573f31862035e9ec145','access_key','fixturekey0001','',X'532098dcbcd7f53a6f78510504de38933db47d266957739288fdd7c34ee578c5',NULL,NULL,NULL,1796126400000000,NULL,NULL);
INSERT INTO credentials VALUES('c1a11a3fe0350525216636b31e97d2a3','f92b65bdd7d66ea9d0a71f264c7746a8','10df9a4a4f3e1573f31862035e9ec145','app_token','fixture-app-token','',NULL,X'02cbcaa4152519fab8c855d88e03b3684025d712010f420580ca4eb8746b03fec0f136e77887bc015bb6c994e0f5a3e81e523d36291bc302231507a2b905c4486bac796f1fdf19c841665923be26f36ea8f40f447e3a9c8ce94bf7d481',NULL,NULL,1796126400000000,NULL,NULL);
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
, exchanges INTEGER NOT NULL DEFAULT 0, principal_kind TEXT NOT NULL DEFAULT '', cnf_x5t_s256 TEXT NOT NULL DEFAULT '', successor TEXT NOT NULL DEFAULT '');
INSERT INTO tokens VALUES('01a23179de00169ca3efa81bbde42890',X'05cf9df3026d304bb0a992c5f91d4d7619fa172ee931e38a24ccace4f8b14162','access','10df9a4a4f3e1573f31862035e9ec145','f92b65bdd7d66ea9d0a71f264c7746a8','1d82205a427437b8c3791ad465d504f1','01a23179de00169ca3efa81bbde42890','','fixture','',1796126400000000,NULL,NULL,NULL,NULL,NULL,0,'','','');
CREATE TABLE replay_keys (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
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
INSERT INTO audit_log VALUES(1,1796126400000000,'create','admin','10df9a4a4f3e1573f31862035e9ec145','f92b65bdd7d66ea9d0a71f264c7746a8','fixture','success','','','');
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
INSERT INTO documents VALUES('system','keyring-check','','{"check":"zWmdvqIZpiasgdMGhiUvq8dW2OJkcwfIPqcRZ+oMvmU="}',1,1796126400000000,1796126400000000);
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
CREATE TABLE counters (
    key        TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    value      INTEGER NOT NULL,
    PRIMARY KEY (key, window_end)
) WITHOUT ROWID;
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('goose_db_version',5);
INSERT INTO sqlite_sequence VALUES('audit_log',1);
CREATE INDEX principals_kind ON principals(kind);
CREATE INDEX credentials_principal ON credentials(principal_id);
CREATE INDEX credentials_org ON credentials(org_id, kind);
CREATE INDEX tokens_family ON tokens(family_id);
CREATE INDEX tokens_principal ON tokens(principal_id, kind);
CREATE INDEX tokens_revoked ON tokens(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX tokens_expires ON tokens(expires_at);
CREATE INDEX replay_keys_expires ON replay_keys(expires_at);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX documents_org ON documents(collection, org_id, created_at);
CREATE INDEX jobs_due ON jobs(queue, run_at) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX tokens_credential ON tokens(credential_id) WHERE credential_id <> '';
COMMIT;
