-- A partner merged into another is kept as a redirect to it: `merged_into` names the partner
-- that took its place; such a partner is in no list and no read answers it.
ALTER TABLE partners ADD COLUMN merged_into BIGINT REFERENCES partners (id);
CREATE INDEX partners_merged_into_idx ON partners (merged_into) WHERE merged_into IS NOT NULL;
