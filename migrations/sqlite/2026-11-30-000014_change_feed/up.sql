-- The change feed (GET /api/v1/changes) is the audit log read in commit order. SQLite has one
-- writer at a time, and AUTOINCREMENT ids are taken in commit order, so the id alone is that
-- order: txid stays 0 here (PostgreSQL keeps the writing transaction's id in it).
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;

-- Where the feed has been pruned to: the position (txid, id) of the last entry deleted for
-- being older than CHANGES_RETENTION_DAYS. A feed cursor before it has missed entries (410).
CREATE TABLE changes_pruned (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    txid BIGINT NOT NULL,
    seq  BIGINT NOT NULL
);
INSERT INTO changes_pruned (id, txid, seq) VALUES (1, 0, 0);
