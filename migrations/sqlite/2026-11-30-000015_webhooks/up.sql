-- Webhooks: targets that are sent every change they ask for, signed (Standard Webhooks 1.0).
-- event_types is a JSON list of `partner.created`… or ["*"]. secret is the signing key (the
-- base64 after `whsec_`), the one thing needed to sign. lease_owner/lease_until: the instance
-- that is sending this webhook's deliveries now, until when (see webhooks::delivery).
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    description TEXT,
    secret      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMP
);
CREATE INDEX webhooks_active_idx ON webhooks (active);

-- The outbox: one row per (webhook, change), written in the change's own transaction. No
-- foreign key on webhook_id: deleting a webhook (which deletes its deliveries) must never make
-- a concurrent change fail; a delivery of a deleted webhook is never claimed. txid is
-- the writing transaction's id on PostgreSQL; here always 0, and the id alone is feed order.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    webhook_id       BIGINT NOT NULL,
    audit_id         BIGINT NOT NULL,
    txid             BIGINT NOT NULL DEFAULT 0,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP,
    last_attempt_at  TIMESTAMP,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, status, txid, id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
