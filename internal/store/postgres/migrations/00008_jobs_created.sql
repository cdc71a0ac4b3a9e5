-- +goose NO TRANSACTION
-- +goose Up
-- The outbox listings (GET /admin/m2m/outbox, authgate m2m outbox list)
-- page jobs newest first: read in index order instead of sorting the
-- whole table for every page. Built CONCURRENTLY, outside a transaction:
-- a node upgrading a live cluster does not hold up the other nodes'
-- outbox writes for as long as the build takes. A build that fails
-- leaves an invalid index behind, which the retry drops first.
DROP INDEX CONCURRENTLY IF EXISTS jobs_created;
CREATE INDEX CONCURRENTLY jobs_created ON jobs(created_at, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_created;
