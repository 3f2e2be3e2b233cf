-- Accounts and what they log in with, the access log, and who filed each case. Secrets are kept
-- only as hashes (argon2id for passwords, SHA-256 for session and token secrets).
CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    login                TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    unit                 TEXT,
    division_code        TEXT,
    roles                TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    failed_logins        BIGINT NOT NULL,
    locked_until         BIGINT,
    disabled             BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX accounts_by_division ON accounts (division_code, login);

CREATE TABLE credentials (
    secret_hash BYTEA PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    kind        TEXT NOT NULL,
    label       TEXT NOT NULL,
    csrf        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX credentials_by_account ON credentials (account_id, kind, created_at);

CREATE TABLE access_log (
    seq           BIGSERIAL PRIMARY KEY,
    at            BIGINT NOT NULL,
    account_id    TEXT,
    unit          TEXT,
    division_code TEXT,
    event         TEXT NOT NULL,
    case_id       TEXT,
    reason        TEXT NOT NULL,
    address       TEXT
);
CREATE INDEX access_log_by_division ON access_log (division_code, at);

ALTER TABLE cases ADD COLUMN reporter_account TEXT;
CREATE INDEX cases_by_reporter_account ON cases (reporter_account, reported_at) WHERE reporter_account IS NOT NULL;
