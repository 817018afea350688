CREATE TABLE countries (
    code         TEXT PRIMARY KEY NOT NULL,
    alpha3       TEXT NOT NULL UNIQUE,
    numeric_code TEXT NOT NULL,
    name         TEXT NOT NULL,
    region       TEXT,
    subregion    TEXT,
    participant  BOOLEAN NOT NULL DEFAULT FALSE,
    joined_on    DATE,
    notes        TEXT,
    -- lower-cased (Unicode-aware, done in Rust) copy of the searchable texts, for `q`
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX countries_name_idx ON countries (name, code);
CREATE INDEX countries_numeric_idx ON countries (numeric_code, code);
CREATE INDEX countries_created_idx ON countries (created_at, code);
CREATE INDEX countries_updated_idx ON countries (updated_at, code);
CREATE INDEX countries_region_idx ON countries (region, subregion);
CREATE INDEX countries_participant_idx ON countries (participant, code);
