-- The mark of the audit log that every list's weak ETag is made from (src/audit/queries.rs,
-- `mark`): the change feed's head (the last entry of a transaction older than every one still
-- running) and how many entries were committed beyond it. A PL/pgSQL function keeps its plans
-- for the session, where the same SQL sent by the service was planned again for every list
-- request (most of a page's cost on PostgreSQL). STABLE: both reads see the calling
-- statement's snapshot.
CREATE FUNCTION audit_mark() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    horizon bigint := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    head_txid bigint;
    head_id bigint;
    beyond bigint;
BEGIN
    SELECT txid, id INTO head_txid, head_id FROM audit_log
        WHERE txid < horizon ORDER BY txid DESC, id DESC LIMIT 1;
    SELECT count(*) INTO beyond FROM audit_log WHERE txid >= horizon;
    RETURN coalesce(head_txid, 0) || '.' || coalesce(head_id, 0) || '.' || beyond;
END
$$;
