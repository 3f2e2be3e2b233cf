-- Cases: the current row (derived from the history in the same transaction as each action), the
-- append-only history with each entry's hash chained to its predecessor, and per-city daily
-- counters for case numbers. Times are milliseconds since the Unix epoch.
CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    city_code       TEXT NOT NULL,
    status          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    category        TEXT NOT NULL,
    priority        TEXT NOT NULL,
    division_code   TEXT NOT NULL REFERENCES divisions (code),
    handler         TEXT,
    grid_code       TEXT,
    reported_at     INTEGER NOT NULL,
    claim_due       INTEGER,
    resolve_due     INTEGER,
    version         INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    last_hash       BLOB NOT NULL,
    body            TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX cases_by_division ON cases (division_code, reported_at);
CREATE INDEX cases_by_handler ON cases (handler, status, reported_at);
CREATE INDEX cases_by_reported ON cases (reported_at);

CREATE TABLE case_actions (
    case_id      TEXT NOT NULL REFERENCES cases (id),
    sequence     INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    status_after TEXT NOT NULL,
    details      TEXT NOT NULL,
    hash         BLOB NOT NULL,
    PRIMARY KEY (case_id, sequence)
) WITHOUT ROWID;

CREATE TABLE case_counters (
    city_code TEXT NOT NULL,
    day       TEXT NOT NULL,
    last      INTEGER NOT NULL,
    PRIMARY KEY (city_code, day)
) WITHOUT ROWID;
