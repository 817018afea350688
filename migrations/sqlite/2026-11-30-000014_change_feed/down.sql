DROP TABLE changes_pruned;
ALTER TABLE audit_log DROP COLUMN txid;
