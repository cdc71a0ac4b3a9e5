-- +goose Up
-- key_id: the master key (core.KeyID, 16 hex digits) a credential's secret
-- hash or sealed secret, and a token's hash, were made under, so a master
-- key rotation knows what still needs the previous key; '' for values
-- stored before key ids existed (the database's original key).
ALTER TABLE credentials ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tokens DROP COLUMN key_id;
ALTER TABLE credentials DROP COLUMN key_id;
