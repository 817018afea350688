-- The indexes that answer `q` (src/search.rs): an FTS5 table of trigrams for needles of three
-- characters or more, and a contentless FTS5 table of each text's 1- and 2-character grams (hex
-- tokens made by `search_grams`, a function the service registers on every connection) for
-- shorter ones. Triggers keep both in step inside the writing transaction. `case_sensitive 1`:
-- the text is already lower-cased in Rust, in every script (FTS5's own folding misses some).

CREATE VIRTUAL TABLE partners_trigrams USING fts5(
    search_text, content='partners', content_rowid='id', tokenize='trigram case_sensitive 1'
);
CREATE VIRTUAL TABLE partners_grams USING fts5(
    grams, content='', contentless_delete=1, tokenize='ascii', detail=none
);
INSERT INTO partners_trigrams (partners_trigrams) VALUES ('rebuild');
INSERT INTO partners_grams (rowid, grams) SELECT id, search_grams(search_text) FROM partners;

CREATE TRIGGER partners_search_insert AFTER INSERT ON partners BEGIN
    INSERT INTO partners_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    INSERT INTO partners_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;
CREATE TRIGGER partners_search_delete AFTER DELETE ON partners BEGIN
    INSERT INTO partners_trigrams (partners_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    DELETE FROM partners_grams WHERE rowid = old.id;
END;
CREATE TRIGGER partners_search_update AFTER UPDATE OF search_text ON partners
    WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO partners_trigrams (partners_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO partners_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    DELETE FROM partners_grams WHERE rowid = old.id;
    INSERT INTO partners_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;

CREATE VIRTUAL TABLE agreements_trigrams USING fts5(
    search_text, content='agreements', content_rowid='id', tokenize='trigram case_sensitive 1'
);
CREATE VIRTUAL TABLE agreements_grams USING fts5(
    grams, content='', contentless_delete=1, tokenize='ascii', detail=none
);
INSERT INTO agreements_trigrams (agreements_trigrams) VALUES ('rebuild');
INSERT INTO agreements_grams (rowid, grams) SELECT id, search_grams(search_text) FROM agreements;

CREATE TRIGGER agreements_search_insert AFTER INSERT ON agreements BEGIN
    INSERT INTO agreements_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    INSERT INTO agreements_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;
CREATE TRIGGER agreements_search_delete AFTER DELETE ON agreements BEGIN
    INSERT INTO agreements_trigrams (agreements_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    DELETE FROM agreements_grams WHERE rowid = old.id;
END;
CREATE TRIGGER agreements_search_update AFTER UPDATE OF search_text ON agreements
    WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO agreements_trigrams (agreements_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO agreements_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    DELETE FROM agreements_grams WHERE rowid = old.id;
    INSERT INTO agreements_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;

CREATE VIRTUAL TABLE events_trigrams USING fts5(
    search_text, content='events', content_rowid='id', tokenize='trigram case_sensitive 1'
);
CREATE VIRTUAL TABLE events_grams USING fts5(
    grams, content='', contentless_delete=1, tokenize='ascii', detail=none
);
INSERT INTO events_trigrams (events_trigrams) VALUES ('rebuild');
INSERT INTO events_grams (rowid, grams) SELECT id, search_grams(search_text) FROM events;

CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    INSERT INTO events_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;
CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_trigrams (events_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    DELETE FROM events_grams WHERE rowid = old.id;
END;
CREATE TRIGGER events_search_update AFTER UPDATE OF search_text ON events
    WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO events_trigrams (events_trigrams, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO events_trigrams (rowid, search_text) VALUES (new.id, new.search_text);
    DELETE FROM events_grams WHERE rowid = old.id;
    INSERT INTO events_grams (rowid, grams) VALUES (new.id, search_grams(new.search_text));
END;
