ALTER TABLE events DROP COLUMN translations;
ALTER TABLE agreements DROP COLUMN translations;
ALTER TABLE partners DROP COLUMN translations;
ALTER TABLE countries DROP COLUMN translations;
