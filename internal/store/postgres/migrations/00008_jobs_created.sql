-- +goose Up
-- The outbox listings (GET /admin/m2m/outbox, authgate m2m outbox list)
-- page jobs newest first: read in index order instead of sorting the
-- whole table for every page.
CREATE INDEX jobs_created ON jobs(created_at, id);

-- +goose Down
DROP INDEX jobs_created;
