//! Reading the change feed out of the audit log, and pruning it.
//!
//! Every committed create, update and delete already has its audit entry, written in the same
//! transaction; the feed is those entries in commit order. On SQLite one writer commits at a
//! time and AUTOINCREMENT ids are taken in that order, so the id is the order. On PostgreSQL
//! ids come from a sequence when a row is written, not when its transaction commits: a reader
//! paging by id could pass over a slower transaction's lower id and never see it. So each entry
//! keeps the id of its transaction (`txid`), the feed is ordered by `(txid, id)`, and it shows
//! only entries of transactions older than the oldest one still running
//! (`pg_snapshot_xmin(pg_current_snapshot())`): those have all ended, and every transaction
//! that starts later gets a larger id. The price is lag: an entry shows once every transaction
//! that began before its own has ended (anywhere on the PostgreSQL server).

use diesel::dsl::{max, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::model::{ChangeRow, Position};
use crate::audit::{AuditAction, ResourceType};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::Rows;
use crate::schema::{audit_log, changes_pruned};
use crate::sql::RowAfter;

/// How far the feed can be read now: every entry at or before this position is committed and
/// visible to any later statement, and no entry will ever be written at or before it.
pub fn readable_to(conn: &mut DbConnection) -> QueryResult<Position> {
    match conn {
        DbConnection::Postgres(pg) => {
            let oldest_running: i64 = diesel::select(sql::<BigInt>(
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            ))
            .get_result(pg)?;
            Ok(Position {
                txid: oldest_running - 1,
                seq: i64::MAX,
            })
        }
        DbConnection::Sqlite(lite) => {
            let last: Option<i64> = audit_log::table
                .select(max(audit_log::id))
                .get_result(lite)?;
            Ok(Position {
                txid: 0,
                seq: last.unwrap_or(0),
            })
        }
    }
}

/// The position of the last entry pruned (`START` if none was).
pub fn pruned_to(conn: &mut DbConnection) -> QueryResult<Position> {
    let found: Option<(i64, i64)> = changes_pruned::table
        .find(1)
        .select((changes_pruned::txid, changes_pruned::seq))
        .first(conn)
        .optional()?;
    Ok(found.map_or(Position::START, |(txid, seq)| Position { txid, seq }))
}

/// Which entries a page holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeedFilter {
    pub resource_type: Option<ResourceType>,
    pub action: Option<AuditAction>,
}

/// One page of the feed after `after`, `limit` entries at most, and where the next page starts.
///
/// A full page continues after its last entry. A page that is not full holds every entry up
/// to what is readable now, so the next one continues from there (also when `filter` let
/// nothing through): a poll never scans the same entries twice. A cursor from before entries
/// that were pruned is a 410: the client has missed them.
pub fn read_page(
    conn: &mut DbConnection,
    after: Option<Position>,
    filter: FeedFilter,
    limit: u32,
) -> Result<(Vec<ChangeRow>, Position), ApiError> {
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    let start = after.unwrap_or(Position::START);
    if sqlite && start.txid != 0 {
        return Err(ApiError::InvalidFeedCursor(
            "not a position of this change feed; use a `next_cursor` or a head's `cursor`"
                .to_owned(),
        ));
    }
    let to = readable_to(conn)?;
    let mut rows: Rows<audit_log::table> = audit_log::table.into_boxed();
    rows = if sqlite {
        rows.filter(audit_log::id.gt(start.seq))
            .filter(audit_log::id.le(to.seq))
            .order(audit_log::id.asc())
    } else {
        rows.filter(audit_log::txid.le(to.txid))
            .filter(RowAfter::new(
                (audit_log::txid, audit_log::id),
                (
                    start.txid.into_sql::<BigInt>(),
                    start.seq.into_sql::<BigInt>(),
                ),
            ))
            .order((audit_log::txid.asc(), audit_log::id.asc()))
    };
    if let Some(kind) = filter.resource_type {
        rows = rows.filter(audit_log::resource_type.eq(kind.as_str()));
    }
    if let Some(action) = filter.action {
        rows = rows.filter(audit_log::action.eq(action.as_str()));
    }
    let mut found: Vec<ChangeRow> = rows
        .select(ChangeRow::as_select())
        .limit(i64::from(limit) + 1)
        .load(conn)?;
    // Read after the page: a prune that ran before the page was read is seen here, so entries
    // the page lacks because they were pruned are never taken for entries that do not exist.
    let pruned = pruned_to(conn)?;
    if after.is_some_and(|after| after < pruned) {
        return Err(ApiError::CursorExpired(
            "this position is from before changes the feed no longer keeps \
             (CHANGES_RETENTION_DAYS), so some changes after it are gone; resynchronise: take \
             GET /api/v1/changes/head, read every list in full, then follow the feed from that \
             head"
                .to_owned(),
        ));
    }
    let full = found.len() > limit as usize;
    found.truncate(limit as usize);
    let next = match found.last() {
        Some(last) if full => last.position(),
        _ => start.max(to).max(pruned),
    };
    Ok((found, next))
}

/// The feed's current end: after every entry committed so far.
pub fn head(conn: &mut DbConnection) -> QueryResult<Position> {
    let to = readable_to(conn)?;
    Ok(to.max(pruned_to(conn)?))
}

/// How many entries one prune statement deletes; each batch is a write transaction of its own.
const PRUNE_BATCH: i64 = 1000;

/// Deletes up to a batch of entries written before `cutoff` (only readable ones, so that the
/// feed never loses an entry it has not shown yet), and moves the pruned mark past them.
/// Returns how many it deleted.
pub fn prune_batch(
    conn: &mut DbConnection,
    cutoff: chrono::NaiveDateTime,
) -> Result<usize, ApiError> {
    let to = readable_to(conn)?;
    let old: Vec<(i64, i64)> = audit_log::table
        .filter(audit_log::at.lt(cutoff))
        .filter(audit_log::txid.le(to.txid))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .select((audit_log::txid, audit_log::id))
        .limit(PRUNE_BATCH)
        .load(conn)?;
    let Some(last) = old.iter().map(|&(txid, seq)| Position { txid, seq }).max() else {
        return Ok(0);
    };
    let ids: Vec<i64> = old.iter().map(|&(_, id)| id).collect();
    let deleted =
        diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&ids))).execute(conn)?;
    // Only forward: another instance may have pruned further meanwhile.
    diesel::update(
        changes_pruned::table.find(1).filter(
            changes_pruned::txid.lt(last.txid).or(changes_pruned::txid
                .eq(last.txid)
                .and(changes_pruned::seq.lt(last.seq))),
        ),
    )
    .set((
        changes_pruned::txid.eq(last.txid),
        changes_pruned::seq.eq(last.seq),
    ))
    .execute(conn)?;
    Ok(deleted)
}
