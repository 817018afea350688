DROP INDEX events_starts_idx;
DROP INDEX events_country_starts_idx;
DROP INDEX events_agreement_idx;
DROP INDEX events_kind_starts_idx;
CREATE INDEX events_starts_idx ON events (starts_on, id, ends_on, version);
CREATE INDEX events_country_starts_idx ON events (country_code, starts_on, id, ends_on, version);
CREATE INDEX events_agreement_idx ON events (agreement_id, starts_on, id, ends_on, version);
CREATE INDEX events_kind_starts_idx ON events (kind, starts_on, id, ends_on, version);
