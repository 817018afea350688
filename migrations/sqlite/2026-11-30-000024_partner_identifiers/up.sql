-- External identifiers of partners: the schemes they come from (extensible by admins), each
-- partner's list as it reads (`partners.identifiers`, JSON, like an agreement's parties), and
-- the same list as rows, where each (scheme, value) belongs to one partner.
CREATE TABLE identifier_schemes (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    pattern TEXT,
    description TEXT
);

INSERT INTO identifier_schemes (code, name, pattern, description) VALUES
    ('iati-org', 'IATI organisation identifier', '^[A-Za-z]{2}-[A-Za-z0-9]+-\S+$',
     'The identifier an organisation publishes IATI data under: a registration agency prefix and the number it gives, e.g. XM-DAC-41114 (UNDP).'),
    ('xm-dac', 'OECD DAC channel code', '^[0-9]{3,6}$',
     'The code of the OECD Development Assistance Committee for the organisation as a channel of delivery, e.g. 41114.'),
    ('wikidata', 'Wikidata item', '^Q[1-9][0-9]*$', 'The Wikidata item about the organisation, e.g. Q7817 (WHO).'),
    ('ror', 'Research Organization Registry', '^0[a-hj-km-np-tv-z0-9]{6}[0-9]{2}$',
     'The ROR id of a university or research body, without https://ror.org/, e.g. 052gg0110.'),
    ('lei', 'Legal Entity Identifier', '^[A-Z0-9]{18}[0-9]{2}$', 'The 20-character ISO 17442 code.'),
    ('kz-bin', 'Kazakhstan business identification number (BIN)', '^[0-9]{12}$',
     'The 12-digit number of a legal entity registered in Kazakhstan.'),
    ('kg-inn', 'Kyrgyzstan taxpayer identification number (INN)', '^[0-9]{14}$',
     'The 14-digit number of a taxpayer registered in Kyrgyzstan.'),
    ('uz-inn', 'Uzbekistan taxpayer identification number (STIR/INN)', '^[0-9]{9}$',
     'The 9-digit number of a taxpayer registered in Uzbekistan.'),
    ('kr-brn', 'Korea business registration number', '^[0-9]{3}-?[0-9]{2}-?[0-9]{5}$',
     'The 10-digit number of a business registered in Korea, with or without its dashes.');

ALTER TABLE partners ADD COLUMN identifiers TEXT NOT NULL DEFAULT '[]';

CREATE TABLE partner_identifiers (
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    scheme TEXT NOT NULL REFERENCES identifier_schemes (code),
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (scheme, value)
);
CREATE INDEX partner_identifiers_partner_idx ON partner_identifiers (partner_id);
