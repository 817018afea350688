-- The change feed (GET /api/v1/changes) is the audit log read in commit order. A sequence
-- value is taken when a row is written, not when its transaction commits, so paging by id
-- alone could pass over a slower transaction's lower id for ever. Each entry keeps the id of
-- the transaction that wrote it; the feed shows only entries of transactions older than the
-- oldest one still running (pg_snapshot_xmin(pg_current_snapshot())), in (txid, id) order.
-- Entries written before this migration get 0: they come first, in id order.
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_log ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_log_feed_idx ON audit_log (txid, id);
