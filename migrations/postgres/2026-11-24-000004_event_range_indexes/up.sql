-- Event lists filtered by a date range (`from`) are sorted by start date, so the planner walks
-- an index in (…, starts_on, id) order and must test each entry's ends_on. With ends_on as a
-- trailing column the index holds everything the test needs: no table lookup per skipped row
-- (measured on 100 000 events: 2.0 ms to 0.3 ms for a page of one country's events).
DROP INDEX events_starts_idx;
DROP INDEX events_country_starts_idx;
DROP INDEX events_agreement_idx;
DROP INDEX events_kind_starts_idx;
CREATE INDEX events_starts_idx ON events (starts_on, id, ends_on);
CREATE INDEX events_country_starts_idx ON events (country_code, starts_on, id, ends_on);
CREATE INDEX events_agreement_idx ON events (agreement_id, starts_on, id, ends_on);
CREATE INDEX events_kind_starts_idx ON events (kind, starts_on, id, ends_on);
