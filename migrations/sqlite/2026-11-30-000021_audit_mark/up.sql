-- On PostgreSQL this migration adds audit_mark(); SQLite's mark is the largest audit id and
-- needs nothing. Kept so that both backends have the same chain of versions.
SELECT 1;
