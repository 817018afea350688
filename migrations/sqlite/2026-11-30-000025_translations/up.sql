-- Texts in other languages, by BCP 47 tag: {"ru": {"name": "…"}, …}. Existing records have none;
-- countries get their names in the hub's languages when the service starts (from the ISO data).
ALTER TABLE countries ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE partners ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE agreements ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
