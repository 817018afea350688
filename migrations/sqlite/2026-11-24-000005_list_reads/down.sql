DROP INDEX events_duration_idx;
ALTER TABLE agreements DROP COLUMN country_codes;
ALTER TABLE agreements DROP COLUMN parties;
ALTER TABLE events DROP COLUMN participants;
