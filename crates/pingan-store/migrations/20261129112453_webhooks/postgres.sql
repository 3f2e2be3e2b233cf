-- Webhook subscriptions and their outbox: a delivery row is written in the same transaction as
-- the history entry it announces, and the dispatcher records every attempt on it.
CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    unit       TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    categories TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active     BOOLEAN NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id),
    case_id         TEXT NOT NULL REFERENCES cases (id),
    sequence        BIGINT NOT NULL,
    event           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT
);
-- What the dispatcher asks for: a subscription's pending deliveries that are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_latest ON webhook_deliveries (webhook_id, id);
