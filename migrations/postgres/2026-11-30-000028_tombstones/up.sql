-- Undo: a delete keeps the record as a tombstone. `deleted_at` is when it was deleted; a
-- tombstone is in no list or read (admins ask with include_deleted=true), holds none of its
-- relation rows (its lists stay in its own columns), and may be restored or purged.
ALTER TABLE countries ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE partners ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE agreements ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE events ADD COLUMN deleted_at TIMESTAMP;
