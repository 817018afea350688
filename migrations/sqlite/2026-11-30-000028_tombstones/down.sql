-- Back to deletes that remove: the tombstones go, as a delete then did (their relation rows
-- are gone already; a live record never refers to a tombstone).
DELETE FROM events WHERE deleted_at IS NOT NULL;
DELETE FROM agreements WHERE deleted_at IS NOT NULL;
-- A partner merged into a tombstone was a redirect to it only.
DELETE FROM partners WHERE merged_into IN (SELECT id FROM partners WHERE deleted_at IS NOT NULL);
DELETE FROM partner_identifiers WHERE partner_id IN (SELECT id FROM partners WHERE deleted_at IS NOT NULL);
DELETE FROM partners WHERE deleted_at IS NOT NULL;
DELETE FROM countries WHERE deleted_at IS NOT NULL;
ALTER TABLE events DROP COLUMN deleted_at;
ALTER TABLE agreements DROP COLUMN deleted_at;
ALTER TABLE partners DROP COLUMN deleted_at;
ALTER TABLE countries DROP COLUMN deleted_at;
