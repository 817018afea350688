-- The parties' JSON lose their dates again, as the service before this migration writes them.
UPDATE agreements SET parties = relation.list FROM (
    SELECT agreement_id, '[' || string_agg(format('{"partner_id":%s,"role":%s}', partner_id,
        to_json(role)), ',' ORDER BY position) || ']' AS list
    FROM agreement_parties GROUP BY agreement_id
    HAVING bool_or(signed_on IS NOT NULL OR entered_into_force_on IS NOT NULL
                   OR withdrew_on IS NOT NULL)
) AS relation WHERE relation.agreement_id = agreements.id;
DROP INDEX agreement_parties_in_force_idx;
ALTER TABLE agreement_parties DROP COLUMN withdrew_on;
ALTER TABLE agreement_parties DROP COLUMN entered_into_force_on;
ALTER TABLE agreement_parties DROP COLUMN signed_on;
ALTER TABLE agreements DROP COLUMN expires_on;
ALTER TABLE agreements DROP COLUMN entered_into_force_on;
