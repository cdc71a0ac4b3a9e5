-- +goose NO TRANSACTION
-- +goose Up
-- The janitor purges done and failed jobs by the time they finished:
-- find them without reading the whole outbox (partial indexes: pending
-- jobs, the ones the worker claims, are in neither). Built CONCURRENTLY,
-- as 00008_jobs_created.sql is, and for the same reason.
DROP INDEX CONCURRENTLY IF EXISTS jobs_done;
CREATE INDEX CONCURRENTLY jobs_done ON jobs(done_at) WHERE done_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS jobs_failed;
CREATE INDEX CONCURRENTLY jobs_failed ON jobs(failed_at) WHERE failed_at IS NOT NULL AND done_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_failed;
DROP INDEX CONCURRENTLY IF EXISTS jobs_done;
