-- The legal lifecycle of an agreement: when it entered into force and when it expires, and for
-- each party when it signed, when the agreement entered into force for it and when it withdrew.
-- All optional, and unknown (NULL) for the records already stored: the rules that need them
-- apply when a write sets or changes the status or one of these dates. The party dates are
-- also in the `parties` JSON of the agreement, which reads answer; these columns are what the
-- `party_active_on` filter reads.
ALTER TABLE agreements ADD COLUMN entered_into_force_on DATE;
ALTER TABLE agreements ADD COLUMN expires_on DATE;
ALTER TABLE agreement_parties ADD COLUMN signed_on DATE;
ALTER TABLE agreement_parties ADD COLUMN entered_into_force_on DATE;
ALTER TABLE agreement_parties ADD COLUMN withdrew_on DATE;
CREATE INDEX agreement_parties_in_force_idx
    ON agreement_parties (entered_into_force_on, partner_id)
    WHERE entered_into_force_on IS NOT NULL;
