-- +goose Up
-- exchanges counts how often a refresh token was exchanged, so the fan-out
-- of one token inside the grace window is bounded (core.Tokens.ExchangeRefresh).
ALTER TABLE tokens ADD COLUMN exchanges INTEGER NOT NULL DEFAULT 0;
-- Tokens rotated before the count existed were exchanged at least once.
UPDATE tokens SET exchanges = 1 WHERE rotated_at IS NOT NULL;

-- +goose Down
ALTER TABLE tokens DROP COLUMN exchanges;
