-- Webhook subscriptions and their outbox: a delivery row is written in the same transaction as
-- the history entry it announces, and the dispatcher records every attempt on it.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    unit       TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    categories TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    active     INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id),
    case_id         TEXT NOT NULL REFERENCES cases (id),
    sequence        INTEGER NOT NULL,
    event           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER
);
-- What the dispatcher asks for: a subscription's pending deliveries that are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_latest ON webhook_deliveries (webhook_id, id);
