DROP TRIGGER events_search_update;
DROP TRIGGER events_search_delete;
DROP TRIGGER events_search_insert;
DROP TABLE events_grams;
DROP TABLE events_trigrams;

DROP TRIGGER agreements_search_update;
DROP TRIGGER agreements_search_delete;
DROP TRIGGER agreements_search_insert;
DROP TABLE agreements_grams;
DROP TABLE agreements_trigrams;

DROP TRIGGER partners_search_update;
DROP TRIGGER partners_search_delete;
DROP TRIGGER partners_search_insert;
DROP TABLE partners_grams;
DROP TABLE partners_trigrams;
