-- A counter bumped by every write to boundaries or grids, so servers can tell their in-memory
-- geography is stale without reading it all.
CREATE TABLE geography_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO geography_revision (id, revision) VALUES (1, 0);
