-- +goose Up
-- principal_kind: the holder's kind, so a privilege check needs no principal read.
-- cnf_x5t_s256: RFC 8705 certificate binding (base64url SHA-256 of the DER client certificate).
-- tokens_credential: revoking a credential revokes the tokens issued on its strength.
ALTER TABLE tokens ADD COLUMN principal_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN cnf_x5t_s256 TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_credential ON tokens(credential_id) WHERE credential_id <> '';
-- Device tokens issued before kept their binding as "x5t#S256:<thumbprint>": move it
-- to the enforced column, so an upgrade does not turn them into plain bearer tokens.
UPDATE tokens SET cnf_x5t_s256 = substr(binding, 10), binding = '' WHERE binding LIKE 'x5t#S256:%';

-- +goose Down
DROP INDEX tokens_credential;
ALTER TABLE tokens DROP COLUMN cnf_x5t_s256;
ALTER TABLE tokens DROP COLUMN principal_kind;
