-- +goose Up
-- The replay table is UNLOGGED: a replay insert commits without waiting
-- for the WAL to reach the disk. A database crash (or a failover to a
-- standby) empties it, and with it replay_epoch; the durable horizons
-- below then become a fence that refuses every message whose key may
-- have been lost (sqlstore.FencedReplayDialect explains the rule).
ALTER TABLE replay_keys SET UNLOGGED;
CREATE UNLOGGED TABLE replay_epoch (
    id    INT PRIMARY KEY CHECK (id = 1),
    epoch TEXT NOT NULL
);
-- Present from the start: only a lost replay table lacks it.
INSERT INTO replay_epoch(id, epoch) VALUES (1, 'initial');
-- horizon: no key of the namespace accepted so far expires later;
-- fence: messages expiring no later are refused (set after a loss).
CREATE TABLE replay_horizons (
    namespace TEXT PRIMARY KEY,
    horizon   BIGINT NOT NULL,
    fence     BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE replay_horizons;
DROP TABLE replay_epoch;
ALTER TABLE replay_keys SET LOGGED;
