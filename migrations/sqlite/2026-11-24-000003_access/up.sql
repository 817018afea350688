-- API tokens (only a hash of each is kept) and the audit trail of every write.

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    -- SHA-256 of the token, hex; tokens carry 256 random bits, so a fast hash is enough
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at            TIMESTAMP NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    -- the resource as JSON before and after the write (null on create and delete respectively)
    before_state  TEXT,
    after_state   TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
