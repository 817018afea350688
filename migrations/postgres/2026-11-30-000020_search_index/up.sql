-- The indexes that answer `q` (src/search.rs). Needles of three characters or more: a pg_trgm
-- GIN index on the search text (lower-cased in Rust, so that folding does not depend on the
-- database's locale), asked with LIKE. Shorter ones, which have no trigram: a GIN index on the
-- array of the text's distinct 1- and 2-character substrings, asked with @> (exact).
-- Building the indexes over existing rows outlasts the service's statement timeout (15 s):
-- 1 000 000 events took longer. This transaction only.
SET LOCAL statement_timeout = 0;

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- COST: at the default, the planner would rather walk a list's sort index and call this on
-- every row until the page is full (a rare two-character q: 15 s) than ask the GIN index
-- (15 ms on 1 000 000 events); 5000 tips it to the index and stays below the JIT threshold.
CREATE FUNCTION search_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 5000 AS $$
    SELECT ARRAY(
        SELECT DISTINCT substr(t, i, n)
        FROM generate_series(1, length(t)) AS i, (VALUES (1), (2)) AS lengths (n)
    )
$$;

CREATE INDEX partners_search_trgm_idx ON partners USING gin (search_text gin_trgm_ops);
CREATE INDEX partners_search_grams_idx ON partners USING gin (search_grams(search_text));

CREATE INDEX agreements_search_trgm_idx ON agreements USING gin (search_text gin_trgm_ops);
CREATE INDEX agreements_search_grams_idx ON agreements USING gin (search_grams(search_text));

CREATE INDEX events_search_trgm_idx ON events USING gin (search_text gin_trgm_ops);
CREATE INDEX events_search_grams_idx ON events USING gin (search_grams(search_text));
