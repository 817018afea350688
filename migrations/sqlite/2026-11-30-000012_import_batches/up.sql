-- An import writes many records in one transaction; each of its audit entries carries the
-- import's batch id, so that the entries of one import can be found together.
ALTER TABLE audit_log ADD COLUMN batch_id TEXT;
CREATE INDEX audit_log_batch ON audit_log (batch_id, id) WHERE batch_id IS NOT NULL;
