DROP INDEX audit_log_batch;
ALTER TABLE audit_log DROP COLUMN batch_id;
