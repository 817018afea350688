DROP INDEX partners_merged_into_idx;
ALTER TABLE partners DROP COLUMN merged_into;
