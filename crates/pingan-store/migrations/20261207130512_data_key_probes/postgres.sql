-- The keys personal data in this database is sealed under: for each, a known value sealed under
-- it, so that a server can tell at start whether its key file holds the same keys.
CREATE TABLE data_key_probes (
    key_id      TEXT PRIMARY KEY COLLATE "C",
    probe       TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
