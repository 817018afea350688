DROP TABLE partner_identifiers;
ALTER TABLE partners DROP COLUMN identifiers;
DROP TABLE identifier_schemes;
