-- Agreements and events link to documents (the signed memorandum, an agenda, a report): a JSON
-- list kept in the row, like `parties`, read and written with the row. Existing rows link to
-- none.
ALTER TABLE agreements ADD COLUMN documents TEXT NOT NULL DEFAULT '[]';
ALTER TABLE events ADD COLUMN documents TEXT NOT NULL DEFAULT '[]';
