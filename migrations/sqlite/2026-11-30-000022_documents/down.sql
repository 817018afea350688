ALTER TABLE events DROP COLUMN documents;
ALTER TABLE agreements DROP COLUMN documents;
