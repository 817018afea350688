-- Partners, agreements and events, with their relations. Enumerations are stored as text and
-- checked by the service; `search_text` is the lower-cased text that `q` searches.

CREATE TABLE partners (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name         TEXT NOT NULL,
    -- the name lower-cased in Rust: unique ignoring case, in any script
    name_key     TEXT NOT NULL UNIQUE,
    acronym      TEXT,
    kind         TEXT NOT NULL,
    country_code TEXT REFERENCES countries (code),
    website      TEXT,
    email        TEXT,
    description  TEXT,
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX partners_name_idx ON partners (name, id);
CREATE INDEX partners_kind_idx ON partners (kind, id);
CREATE INDEX partners_country_idx ON partners (country_code, id);
CREATE INDEX partners_created_idx ON partners (created_at, id);
CREATE INDEX partners_updated_idx ON partners (updated_at, id);

CREATE TABLE agreements (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    signed_on    DATE,
    starts_on    DATE,
    ends_on      DATE,
    summary      TEXT,
    document_url TEXT,
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX agreements_title_idx ON agreements (title, id);
CREATE INDEX agreements_status_idx ON agreements (status, id);
CREATE INDEX agreements_kind_idx ON agreements (kind, id);
CREATE INDEX agreements_signed_idx ON agreements (signed_on, id);
CREATE INDEX agreements_starts_idx ON agreements (starts_on, id);
CREATE INDEX agreements_created_idx ON agreements (created_at, id);
CREATE INDEX agreements_updated_idx ON agreements (updated_at, id);

CREATE TABLE agreement_parties (
    agreement_id BIGINT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    partner_id   BIGINT NOT NULL REFERENCES partners (id),
    role         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, partner_id)
);
CREATE INDEX agreement_parties_partner_idx ON agreement_parties (partner_id, agreement_id);

CREATE TABLE agreement_countries (
    agreement_id BIGINT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    country_code TEXT NOT NULL REFERENCES countries (code),
    position     INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, country_code)
);
CREATE INDEX agreement_countries_country_idx ON agreement_countries (country_code, agreement_id);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    starts_on    DATE NOT NULL,
    ends_on      DATE,
    city         TEXT,
    venue        TEXT,
    country_code TEXT REFERENCES countries (code),
    agreement_id BIGINT REFERENCES agreements (id),
    description  TEXT,
    url          TEXT,
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX events_starts_idx ON events (starts_on, id);
CREATE INDEX events_country_starts_idx ON events (country_code, starts_on, id);
CREATE INDEX events_agreement_idx ON events (agreement_id, starts_on, id);
CREATE INDEX events_kind_starts_idx ON events (kind, starts_on, id);
CREATE INDEX events_title_idx ON events (title, id);
CREATE INDEX events_created_idx ON events (created_at, id);
CREATE INDEX events_updated_idx ON events (updated_at, id);

CREATE TABLE event_participants (
    event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES partners (id),
    role       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (event_id, partner_id)
);
CREATE INDEX event_participants_partner_idx ON event_participants (partner_id, event_id);
