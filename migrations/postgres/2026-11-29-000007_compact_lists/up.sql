-- Reads write the JSON lists kept beside each row (migration 5) into responses as they are
-- stored, so each must be in the form the service writes: no spaces, keys in field order.
-- The lists that migration 5 copied came from json_agg, which writes
-- `[{"partner_id" : 1, "role" : "host"}]`; they are written again from their relation tables.
UPDATE events SET participants = relation.list FROM (
    SELECT event_id, '[' || string_agg(format('{"partner_id":%s,"role":%s}', partner_id,
        to_json(role)), ',' ORDER BY position) || ']' AS list
    FROM event_participants GROUP BY event_id
) AS relation WHERE relation.event_id = events.id AND events.participants <> relation.list;
UPDATE agreements SET parties = relation.list FROM (
    SELECT agreement_id, '[' || string_agg(format('{"partner_id":%s,"role":%s}', partner_id,
        to_json(role)), ',' ORDER BY position) || ']' AS list
    FROM agreement_parties GROUP BY agreement_id
) AS relation WHERE relation.agreement_id = agreements.id AND agreements.parties <> relation.list;
UPDATE agreements SET country_codes = relation.list FROM (
    SELECT agreement_id, '[' || string_agg(to_json(country_code)::text, ',' ORDER BY position)
        || ']' AS list
    FROM agreement_countries GROUP BY agreement_id
) AS relation WHERE relation.agreement_id = agreements.id
    AND agreements.country_codes <> relation.list;
