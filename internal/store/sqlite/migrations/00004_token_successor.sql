-- +goose Up
-- successor: the one child refresh token of this token that was exchanged
-- first; its siblings (from a concurrent exchange inside the grace window)
-- are void from then on (core.Tokens.ExchangeRefresh).
ALTER TABLE tokens ADD COLUMN successor TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tokens DROP COLUMN successor;
