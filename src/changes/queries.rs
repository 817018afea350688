//! Reading the change feed out of the audit log.
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
//!
//! Nothing is ever deleted from the audit log (it is the record of who changed what). The feed
//! only reaches back `CHANGES_RETENTION_DAYS`: it serves the entries written at or after the
//! cutoff (now − those days), and a cursor whose next entry is older than that is a 410.

use chrono::NaiveDateTime;
use diesel::dsl::{max, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::model::{ChangeRow, Position};
use crate::audit::{AuditAction, ResourceType};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::Rows;
use crate::schema::audit_log;
use crate::sql::RowAfter;
use crate::time::StoredTimestamp;

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

/// Which entries a page holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeedFilter {
    pub resource_type: Option<ResourceType>,
    pub action: Option<AuditAction>,
}

/// One page of the feed after `after`, `limit` entries at most, and where the next page starts.
/// The feed reaches back to `cutoff` (if any): without `after` the page starts at that horizon,
/// and an `after` whose next readable entry (whatever the filter) is older than `cutoff` is a
/// 410: the client fell more than the retention behind. Past that check every later entry is
/// served, whatever its time: feed order is commit order, not time order, so an entry after the
/// cursor may be a little older than the one before it, and filtering by time would skip it.
///
/// A full page continues after its last entry. A page that is not full holds every entry up
/// to what is readable now, so the next one continues from there (also when `filter` let
/// nothing through): a poll never scans the same entries twice.
pub fn read_page(
    conn: &mut DbConnection,
    after: Option<Position>,
    filter: FeedFilter,
    limit: u32,
    cutoff: Option<NaiveDateTime>,
) -> Result<(Vec<ChangeRow>, Position), ApiError> {
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    if sqlite && after.is_some_and(|after| after.txid != 0) {
        return Err(ApiError::InvalidFeedCursor(
            "not a position of this change feed; use a `next_cursor` or a head's `cursor`"
                .to_owned(),
        ));
    }
    let to = readable_to(conn)?;
    let start = match (after, cutoff) {
        (Some(after), Some(cutoff)) => {
            if next_entry_at(conn, after, to)?.is_some_and(|at| at < cutoff) {
                return Err(ApiError::CursorExpired(
                    "this position is further back than the change feed reaches \
                     (CHANGES_RETENTION_DAYS), so the changes after it are no longer in the \
                     feed; resynchronise: take GET /api/v1/changes/head, read every list in \
                     full, then follow the feed from that head"
                        .to_owned(),
                ));
            }
            after
        }
        (Some(after), None) => after,
        (None, Some(cutoff)) => horizon(conn, cutoff, to)?,
        (None, None) => Position::START,
    };
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
    let full = found.len() > limit as usize;
    found.truncate(limit as usize);
    let next = match found.last() {
        Some(last) if full => last.position(),
        _ => start.max(to),
    };
    Ok((found, next))
}

/// When the first readable entry after `after` in feed order was written, if there is one.
/// One index lookup (EXPLAINed): audit_log_feed_idx (txid, id) on PostgreSQL, the rowid on SQLite.
fn next_entry_at(
    conn: &mut DbConnection,
    after: Position,
    to: Position,
) -> QueryResult<Option<NaiveDateTime>> {
    let rows: Rows<audit_log::table> = match conn {
        DbConnection::Sqlite(_) => audit_log::table
            .into_boxed()
            .filter(audit_log::id.gt(after.seq))
            .filter(audit_log::id.le(to.seq))
            .order(audit_log::id.asc()),
        DbConnection::Postgres(_) => audit_log::table
            .into_boxed()
            .filter(audit_log::txid.le(to.txid))
            .filter(RowAfter::new(
                (audit_log::txid, audit_log::id),
                (
                    after.txid.into_sql::<BigInt>(),
                    after.seq.into_sql::<BigInt>(),
                ),
            ))
            .order((audit_log::txid.asc(), audit_log::id.asc())),
    };
    let at: Option<StoredTimestamp> = rows.select(audit_log::at).first(conn).optional()?;
    Ok(at.map(NaiveDateTime::from))
}

/// Where a read without a cursor starts: just before the oldest entry written at or after
/// `cutoff` (found on audit_log_at_idx), or at the readable end if there is none. An entry of a
/// transaction that began before that one's but wrote later (PostgreSQL, seconds at most at
/// the horizon's edge) is left out, as if it were older.
fn horizon(conn: &mut DbConnection, cutoff: NaiveDateTime, to: Position) -> QueryResult<Position> {
    // Nothing older than the cutoff: the feed starts at its start (entries are ordered by
    // transaction, not by time, so the oldest entry by time need not come first).
    let older: Option<i64> = audit_log::table
        .filter(audit_log::at.lt(cutoff))
        .select(audit_log::id)
        .first(conn)
        .optional()?;
    if older.is_none() {
        return Ok(Position::START);
    }
    let first: Option<(i64, i64)> = audit_log::table
        .filter(audit_log::at.ge(cutoff))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .select((audit_log::txid, audit_log::id))
        .first(conn)
        .optional()?;
    Ok(match first {
        Some((txid, seq)) => Position { txid, seq: seq - 1 },
        None => to,
    })
}

/// The feed's current end: after every entry committed so far.
pub fn head(conn: &mut DbConnection) -> QueryResult<Position> {
    readable_to(conn)
}
