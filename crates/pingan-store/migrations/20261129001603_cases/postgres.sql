-- Cases: the current row (derived from the history in the same transaction as each action), the
-- append-only history with each entry's hash chained to its predecessor, and per-city daily
-- counters for case numbers. Times are milliseconds since the Unix epoch. Codes use the C collation.
CREATE TABLE cases (
    id              TEXT COLLATE "C" PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    city_code       TEXT NOT NULL,
    status          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    category        TEXT NOT NULL,
    priority        TEXT NOT NULL,
    division_code   TEXT COLLATE "C" NOT NULL REFERENCES divisions (code),
    handler         TEXT COLLATE "C",
    grid_code       TEXT,
    reported_at     BIGINT NOT NULL,
    claim_due       BIGINT,
    resolve_due     BIGINT,
    version         BIGINT NOT NULL,
    idempotency_key TEXT UNIQUE,
    last_hash       BYTEA NOT NULL,
    body            TEXT NOT NULL
);
CREATE INDEX cases_by_division ON cases (division_code, reported_at);
CREATE INDEX cases_by_handler ON cases (handler, status, reported_at);
CREATE INDEX cases_by_reported ON cases (reported_at);

CREATE TABLE case_actions (
    case_id      TEXT COLLATE "C" NOT NULL REFERENCES cases (id),
    sequence     BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    status_after TEXT NOT NULL,
    details      TEXT NOT NULL,
    hash         BYTEA NOT NULL,
    PRIMARY KEY (case_id, sequence)
);

CREATE TABLE case_counters (
    city_code TEXT NOT NULL,
    day       TEXT NOT NULL,
    last      BIGINT NOT NULL,
    PRIMARY KEY (city_code, day)
);
