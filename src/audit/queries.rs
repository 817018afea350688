//! Audit queries. `record` runs inside the caller's write transaction, so an entry exists
//! exactly when the write it describes was committed; so do the webhook deliveries of that
//! write (the outbox, see `webhooks::queries::enqueue`).

use diesel::prelude::*;
use serde::Serialize;

use super::model::{AuditAction, AuditFilter, ResourceType};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::pagination::Rows;
use crate::schema::audit_log;

/// Records one write: `before` is absent on create, `after` on delete.
pub fn record<T: Serialize>(
    conn: &mut DbConnection,
    actor: &str,
    action: AuditAction,
    resource_type: ResourceType,
    resource_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let write = Write {
        actor,
        action,
        resource_type,
        resource_id,
        batch: None,
    };
    record_write(conn, &write, before, after)
}

/// The last entry of one record: what it was, and the record as that write left it.
pub fn last_entry(
    conn: &mut DbConnection,
    resource_type: ResourceType,
    resource_id: &str,
) -> Result<Option<(AuditAction, Option<String>)>, ApiError> {
    let last: Option<(String, Option<String>)> = audit_log::table
        .filter(audit_log::resource_type.eq(resource_type.as_str()))
        .filter(audit_log::resource_id.eq(resource_id))
        .order_by(audit_log::id.desc())
        .select((audit_log::action, audit_log::after_state))
        .first(conn)
        .optional()?;
    last.map(|(action, after)| {
        let action = AuditAction::parse(&action)
            .ok_or_else(|| ApiError::bug(format!("an audit entry's action is {action}")))?;
        Ok((action, after))
    })
    .transpose()
}

/// Who made a write, what it was, and the import it belongs to, if any.
pub struct Write<'a> {
    pub actor: &'a str,
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: &'a str,
    /// The batch id of the import that made it.
    pub batch: Option<&'a str>,
}

/// Records one write, as [`record`] does, with the import it belongs to.
pub fn record_write<T: Serialize>(
    conn: &mut DbConnection,
    write: &Write<'_>,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let Write {
        actor,
        action,
        resource_type,
        resource_id,
        batch,
    } = *write;
    let json = |state: Option<&T>| {
        state
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ApiError::internal("audit state", e))
    };
    let (before, after) = (json(before)?, json(after)?);
    let row = (
        audit_log::at.eq(crate::sql::database_now()),
        audit_log::actor.eq(actor),
        audit_log::action.eq(action.as_str()),
        audit_log::resource_type.eq(resource_type.as_str()),
        audit_log::resource_id.eq(resource_id),
        audit_log::before_state.eq(&before),
        audit_log::after_state.eq(&after),
        audit_log::batch_id.eq(batch),
    );
    let (audit_id, at): (i64, chrono::NaiveDateTime) =
        crate::on_backend!(conn, |c| diesel::insert_into(audit_log::table)
            .values(row)
            .returning((audit_log::id, audit_log::at))
            .get_result(c))?;
    // The outbox: one delivery per active webhook that wants this event, in this transaction.
    let event = crate::webhooks::queries::event_of(resource_type, action);
    crate::webhooks::queries::enqueue(conn, &event, audit_id, at)?;
    Ok(())
}

/// The audit entries `filter` selects.
pub fn matching(filter: &AuditFilter) -> Rows<audit_log::table> {
    let mut query = audit_log::table.into_boxed();
    if let Some(kind) = filter.resource_type {
        query = query.filter(audit_log::resource_type.eq(kind.as_str()));
    }
    if let Some(id) = &filter.resource_id {
        query = query.filter(audit_log::resource_id.eq(id.trim().to_owned()));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor.clone()));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.as_str()));
    }
    if let Some(batch) = &filter.batch_id {
        query = query.filter(audit_log::batch_id.eq(batch.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::at.le(to.naive_utc()));
    }
    query
}

/// A mark of everything the audit log holds, as the reading statement sees it: it differs
/// between two reads whenever an entry was committed in between, so a list's weak ETag can be
/// made from it without reading the list, and no write has a shared counter row to lock.
///
/// On SQLite one writer commits at a time and AUTOINCREMENT ids are never reused, so the
/// largest id is the mark. On PostgreSQL ids are taken before their transactions commit, in
/// another order, so the mark is the change feed's head (the last entry of a transaction older
/// than every one still running) with the number of entries committed beyond it: an entry that
/// commits later than a higher one either raises that number or, once readable, the head. Only
/// this database's own entries move it, never other databases' transactions. (The PostgreSQL
/// function, kept with its plans for the session, is in the `audit_mark` migration.)
pub fn mark(conn: &mut DbConnection) -> QueryResult<String> {
    match conn {
        DbConnection::Sqlite(lite) => {
            let last: Option<i64> = audit_log::table
                .select(diesel::dsl::max(audit_log::id))
                .get_result(lite)?;
            Ok(last.unwrap_or(0).to_string())
        }
        DbConnection::Postgres(pg) => diesel::select(audit_mark()).get_result(pg),
    }
}

diesel::define_sql_function! {
    /// The PostgreSQL mark (migration `audit_mark`).
    fn audit_mark() -> diesel::sql_types::Text;
}
