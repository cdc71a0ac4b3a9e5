-- +goose Up
-- The janitor purges done and failed jobs by the time they finished:
-- find them without reading the whole outbox (partial indexes: pending
-- jobs, the ones the worker claims, are in neither).
CREATE INDEX jobs_done ON jobs(done_at) WHERE done_at IS NOT NULL;
CREATE INDEX jobs_failed ON jobs(failed_at) WHERE failed_at IS NOT NULL AND done_at IS NULL;

-- +goose Down
DROP INDEX jobs_failed;
DROP INDEX jobs_done;
