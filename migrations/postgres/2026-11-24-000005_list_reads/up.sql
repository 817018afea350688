-- Each event keeps its participants, and each agreement its parties and countries, also as a
-- JSON array in its own row, written in the same statement as the row. Lists and reads then
-- take the row alone: reading the relation tables beside a page of 50 events meant some 200
-- more rows to decode (half of a list's time). The relation tables stay the record that
-- filters, references and constraints use; the service writes both in one transaction.
ALTER TABLE events ADD COLUMN participants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agreements ADD COLUMN parties TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agreements ADD COLUMN country_codes TEXT NOT NULL DEFAULT '[]';
UPDATE events SET participants = relation.list FROM (
    SELECT event_id, CAST(json_agg(json_build_object('partner_id', partner_id, 'role', role)
        ORDER BY position) AS TEXT) AS list
    FROM event_participants GROUP BY event_id
) AS relation WHERE relation.event_id = events.id;
UPDATE agreements SET parties = relation.list FROM (
    SELECT agreement_id, CAST(json_agg(json_build_object('partner_id', partner_id, 'role', role)
        ORDER BY position) AS TEXT) AS list
    FROM agreement_parties GROUP BY agreement_id
) AS relation WHERE relation.agreement_id = agreements.id;
UPDATE agreements SET country_codes = relation.list FROM (
    SELECT agreement_id, CAST(json_agg(country_code ORDER BY position) AS TEXT) AS list
    FROM agreement_countries GROUP BY agreement_id
) AS relation WHERE relation.agreement_id = agreements.id;

-- Events overlapping a date range are listed by start date; an event that ends on or after
-- `from` cannot have started before `from` minus the longest event's duration, and this index
-- gives that duration in one probe, so the walk of the start-date index begins there rather
-- than at the first event ever held.
CREATE INDEX events_duration_idx ON events ((ends_on - starts_on));
