-- Photos of reports and results, content-addressed: the key is the SHA-256 of the bytes.
CREATE TABLE photos (
    hash       TEXT PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    bytes      BYTEA NOT NULL
);
