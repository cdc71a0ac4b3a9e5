-- +goose Up
-- principal_kind: the holder's kind, so a privilege check needs no principal read.
-- cnf_x5t_s256: RFC 8705 certificate binding (base64url SHA-256 of the DER client certificate).
-- tokens_credential: revoking a credential revokes the tokens issued on its strength.
ALTER TABLE tokens ADD COLUMN principal_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN cnf_x5t_s256 TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_credential ON tokens(credential_id) WHERE credential_id <> '';

-- +goose Down
DROP INDEX tokens_credential;
ALTER TABLE tokens DROP COLUMN cnf_x5t_s256;
ALTER TABLE tokens DROP COLUMN principal_kind;
