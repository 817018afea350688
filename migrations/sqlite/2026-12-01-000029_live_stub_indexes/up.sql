-- A page of events reads which events it holds, at which versions, from the range indexes
-- alone (migration 000006). Since tombstones (000028) that read also asks `deleted_at IS NULL`,
-- which the indexes did not hold, so every row of a page cost a table lookup again. With
-- `deleted_at` as a trailing column the page is read from the index alone once more, for live
-- lists and for include_deleted=true alike.
DROP INDEX events_starts_idx;
DROP INDEX events_country_starts_idx;
DROP INDEX events_agreement_idx;
DROP INDEX events_kind_starts_idx;
CREATE INDEX events_starts_idx ON events (starts_on, id, ends_on, version, deleted_at);
CREATE INDEX events_country_starts_idx ON events (country_code, starts_on, id, ends_on, version, deleted_at);
CREATE INDEX events_agreement_idx ON events (agreement_id, starts_on, id, ends_on, version, deleted_at);
CREATE INDEX events_kind_starts_idx ON events (kind, starts_on, id, ends_on, version, deleted_at);
