DROP INDEX partners_search_grams_idx;
DROP INDEX partners_search_trgm_idx;
DROP INDEX agreements_search_grams_idx;
DROP INDEX agreements_search_trgm_idx;
DROP INDEX events_search_grams_idx;
DROP INDEX events_search_trgm_idx;
DROP FUNCTION search_grams(text);
-- pg_trgm stays: other databases' objects or later migrations may use it.
