-- Each event keeps its participants, and each agreement its parties and countries, also as a
-- JSON array in its own row, written in the same statement as the row. Lists and reads then
-- take the row alone: reading the relation tables beside a page of 50 events meant some 200
-- more rows to decode (half of a list's time). The relation tables stay the record that
-- filters, references and constraints use; the service writes both in one transaction.
ALTER TABLE events ADD COLUMN participants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agreements ADD COLUMN parties TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agreements ADD COLUMN country_codes TEXT NOT NULL DEFAULT '[]';
UPDATE events SET participants = (
    SELECT json_group_array(json_object('partner_id', p.partner_id, 'role', p.role) ORDER BY p.position)
    FROM event_participants AS p WHERE p.event_id = events.id
) WHERE EXISTS (SELECT 1 FROM event_participants AS p WHERE p.event_id = events.id);
UPDATE agreements SET parties = (
    SELECT json_group_array(json_object('partner_id', p.partner_id, 'role', p.role) ORDER BY p.position)
    FROM agreement_parties AS p WHERE p.agreement_id = agreements.id
) WHERE EXISTS (SELECT 1 FROM agreement_parties AS p WHERE p.agreement_id = agreements.id);
UPDATE agreements SET country_codes = (
    SELECT json_group_array(c.country_code ORDER BY c.position)
    FROM agreement_countries AS c WHERE c.agreement_id = agreements.id
) WHERE EXISTS (SELECT 1 FROM agreement_countries AS c WHERE c.agreement_id = agreements.id);

-- Events overlapping a date range are listed by start date; an event that ends on or after
-- `from` cannot have started before `from` minus the longest event's duration, and this index
-- gives that duration in one probe, so the walk of the start-date index begins there rather
-- than at the first event ever held (the expression must match the query's word for word).
CREATE INDEX events_duration_idx ON events (CAST(julianday(ends_on) - julianday(starts_on) AS INTEGER));
