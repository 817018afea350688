-- Answers kept under an Idempotency-Key, so that a POST can be retried safely: one row per
-- (token, method, path, key). While its first request runs, a row has a claim and no status;
-- then the answer, kept until expires_at (a day later). Expired rows are deleted by later
-- keyed requests, a batch at a time.
CREATE TABLE idempotency_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- SHA-256 of the bearer token, hex, as api_tokens keeps it
    token_hash      TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request's Content-Type and body, hex
    fingerprint     TEXT NOT NULL,
    -- the running request's claim; null once the answer is kept
    claim           TEXT,
    status          INTEGER,
    content_type    TEXT,
    location        TEXT,
    etag            TEXT,
    body            TEXT,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    UNIQUE (token_hash, method, path, idempotency_key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
