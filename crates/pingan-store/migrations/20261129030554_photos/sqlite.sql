-- Photos of reports and results, content-addressed: the key is the SHA-256 of the bytes.
CREATE TABLE photos (
    hash       TEXT PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    bytes      BLOB NOT NULL
);
