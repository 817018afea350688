-- The change feed (GET /api/v1/changes) is the audit log read in commit order. SQLite has one
-- writer at a time, and AUTOINCREMENT ids are taken in commit order, so the id alone is that
-- order: txid stays 0 here (PostgreSQL keeps the writing transaction's id in it).
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
