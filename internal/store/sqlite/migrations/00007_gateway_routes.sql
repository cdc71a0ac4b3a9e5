-- +goose Up
-- Gateway routes created through the admin API or `authgate route`
-- (internal/gateway validates spec, the route as JSON). Every create and
-- delete raises gateway_routes_version in the same transaction: nodes
-- poll that one row and reload the routes when it changed.
CREATE TABLE gateway_routes (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE gateway_routes_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO gateway_routes_version(id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE gateway_routes_version;
DROP TABLE gateway_routes;
