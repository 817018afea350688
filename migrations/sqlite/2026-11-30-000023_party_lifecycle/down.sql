-- The parties' JSON lose their dates again, as the service before this migration writes them.
UPDATE agreements SET parties = (
    SELECT json_group_array(json_object('partner_id', p.partner_id, 'role', p.role) ORDER BY p.position)
    FROM agreement_parties AS p WHERE p.agreement_id = agreements.id
) WHERE EXISTS (
    SELECT 1 FROM agreement_parties AS p WHERE p.agreement_id = agreements.id
        AND (p.signed_on IS NOT NULL OR p.entered_into_force_on IS NOT NULL
             OR p.withdrew_on IS NOT NULL)
);
DROP INDEX agreement_parties_in_force_idx;
ALTER TABLE agreement_parties DROP COLUMN withdrew_on;
ALTER TABLE agreement_parties DROP COLUMN entered_into_force_on;
ALTER TABLE agreement_parties DROP COLUMN signed_on;
ALTER TABLE agreements DROP COLUMN expires_on;
ALTER TABLE agreements DROP COLUMN entered_into_force_on;
