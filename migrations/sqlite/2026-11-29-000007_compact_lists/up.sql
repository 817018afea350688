-- Reads write the JSON lists kept beside each row (migration 5) into responses as they are
-- stored, so each must be in the form the service writes: no spaces, keys in field order.
-- SQLite's json_group_array already wrote them so; json() gives that form, and a list not in
-- it (none is expected) is rewritten. (PostgreSQL's migration 5 wrote them with spaces.)
UPDATE events SET participants = json(participants) WHERE participants <> json(participants);
UPDATE agreements SET parties = json(parties) WHERE parties <> json(parties);
UPDATE agreements SET country_codes = json(country_codes)
    WHERE country_codes <> json(country_codes);
